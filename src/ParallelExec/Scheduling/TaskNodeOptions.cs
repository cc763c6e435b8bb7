using Polly;

namespace ParallelExec.Scheduling;

/// <summary>
/// Per-task settings of a <see cref="TaskGraph"/> task: its dependencies, priority, cost estimate, timeout and
/// resilience pipeline. The values are validated and copied when the task is added, so changing the object afterwards
/// has no effect on the graph.
/// </summary>
public sealed class TaskNodeOptions
{
    /// <summary>Gets or sets the ids of the tasks this task depends on.</summary>
    /// <value>No dependencies. Listing an id twice counts once.</value>
    public IReadOnlyList<string> DependsOn { get; set; } = [];

    /// <summary>
    /// Gets or sets the explicit priority. Among ready tasks, a higher priority starts first; ties are broken by the
    /// longest remaining path to the end of the graph (critical path first), then by the order the tasks were added.
    /// </summary>
    /// <value>0.</value>
    public int Priority { get; set; }

    /// <summary>
    /// Gets or sets the estimated cost of the task, in any unit you use consistently (for example expected
    /// milliseconds). The default priority of a task is the longest path from it to the end of the graph, each task on
    /// the path weighted by its cost estimate.
    /// </summary>
    /// <value>1. Must be finite and not negative.</value>
    public double CostEstimate { get; set; } = 1;

    /// <summary>
    /// Gets or sets how long one run of the task may take, measured by the graph's <see cref="TimeProvider"/>. A task
    /// that exceeds it has its token cancelled and, if it then throws, is reported
    /// <see cref="TaskNodeStatus.Failed"/> with a <see cref="TimeoutException"/>.
    /// </summary>
    /// <value><see cref="Timeout.InfiniteTimeSpan"/> (no timeout). Must be greater than zero or infinite.</value>
    public TimeSpan Timeout { get; set; } = System.Threading.Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets a Polly pipeline (retry, circuit breaker, ...) the task body runs through. The per-task
    /// <see cref="Timeout"/> covers the whole pipeline, retries included.
    /// </summary>
    /// <value><see langword="null"/> (the body runs once).</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }
}
