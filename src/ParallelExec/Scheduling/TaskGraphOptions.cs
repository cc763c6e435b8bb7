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
}
