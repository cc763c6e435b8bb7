using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// Settings of a <see cref="TaskGraph"/>. The values are validated once and copied when the graph is built, so changing
/// the object afterwards has no effect on the graph.
/// </summary>
public sealed class TaskGraphOptions
{
    /// <summary>Gets or sets the most tasks of one run that execute at the same time.</summary>
    /// <value><see cref="Environment.ProcessorCount"/>. Must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>Gets or sets what a run does when a task fails.</summary>
    /// <value><see cref="Scheduling.FailurePolicy.FailFast"/>.</value>
    public FailurePolicy FailurePolicy { get; set; } = FailurePolicy.FailFast;

    /// <summary>Gets or sets the clock behind task timestamps and per-task timeouts.</summary>
    /// <value><see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Gets or sets the name of the graph, attached to its metrics as the <see cref="TelemetryTagNames.Name"/> tag.
    /// </summary>
    /// <value><c>"taskgraph"</c>. Must not be null or empty.</value>
    public string Name { get; set; } = "taskgraph";

    /// <summary>
    /// Gets or sets a worker pool the tasks run on, so that several graphs (and other work) share one concurrency
    /// budget. <see cref="MaxDegreeOfParallelism"/> still bounds each run; the pool's own bound and queue policy apply on
    /// top. A task's start time is then when it was handed to the pool, its timeout covers its wait in the pool's queue,
    /// and an item the pool drops or rejects fails its task with the pool's exception.
    /// </summary>
    /// <value><see langword="null"/>: tasks run on the scheduler's own dispatchers (the thread pool).</value>
    public WorkerPool? WorkerPool { get; set; }
}
