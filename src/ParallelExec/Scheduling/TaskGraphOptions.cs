using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// Settings of a <see cref="TaskGraph"/>: the shared <see cref="ComponentOptions"/> (name, clock, drain timeout of a
/// run's disposal, meter) and the graph's own. The values are validated once and copied when the graph is built, so
/// changing the object afterwards has no effect on the graph.
/// </summary>
public sealed class TaskGraphOptions : ComponentOptions
{
    /// <summary>Gets or sets the most tasks of one run that execute at the same time.</summary>
    /// <value><see cref="Environment.ProcessorCount"/> by default. Must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>Gets or sets what a run does when a task fails.</summary>
    /// <value><see cref="Scheduling.FailurePolicy.FailFast"/> by default.</value>
    public FailurePolicy FailurePolicy { get; set; } = FailurePolicy.FailFast;

    /// <summary>
    /// Gets or sets a worker pool the tasks run on, so that several graphs (and other work) share one concurrency
    /// budget. <see cref="MaxDegreeOfParallelism"/> still bounds each run; the pool's own bound and queue policy apply on
    /// top. A task's start time is then when it was handed to the pool, its timeout covers its wait in the pool's queue,
    /// and an item the pool drops or rejects fails its task with the pool's exception.
    /// </summary>
    /// <value><see langword="null"/> by default: tasks run on the scheduler's own dispatchers (the thread pool).</value>
    public WorkerPool? WorkerPool { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "TaskGraph";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .RequireDefined(FailurePolicy, nameof(FailurePolicy));
    }

    /// <summary>A copy, so that a builder created from options is not changed by later changes to them.</summary>
    internal TaskGraphOptions Clone() => (TaskGraphOptions)MemberwiseClone();
}
