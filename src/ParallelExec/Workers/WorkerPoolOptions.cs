using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// Configuration of a <see cref="WorkerPool"/>. The pool validates the options once, when it is created, and copies
/// them, so changing an options object afterwards does not affect a pool built from it.
/// </summary>
public sealed class WorkerPoolOptions
{
    /// <summary>Gets or sets the number of workers, that is, how many items run at the same time.</summary>
    /// <value>Defaults to <see cref="Environment.ProcessorCount"/>. Must be greater than zero.</value>
    public int WorkerCount { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Gets or sets how many accepted items may wait in the queue for a worker. In <see cref="QueueFullMode.Wait"/> mode,
    /// submissions that found the queue full are admitted (in arrival order) once it has drained to half its capacity,
    /// then as many as fit, so a producer that outpaces the workers is woken once per burst rather than once per item.
    /// </summary>
    /// <value>Defaults to 1024. Must be greater than zero.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what a submission does when the queue is full.</summary>
    /// <value>Defaults to <see cref="QueueFullMode.Wait"/>.</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets the callback told about every item the pool did not run because of <see cref="FullMode"/> or a disposal
    /// deadline. It runs outside the pool's lock; an exception it throws is caught and ignored so it cannot break the pool.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (drops are still counted and reported to their submitters).</value>
    public Action<DroppedWorkItem>? OnDropped { get; set; }

    /// <summary>
    /// Gets or sets the callback told about every failed fire-and-forget item (posted with <c>TryPost</c> or
    /// <c>PostAsync</c>). Awaited items report their failure to their caller instead. It runs outside the pool's lock;
    /// an exception it throws is caught and ignored.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (failures are still counted in statistics and metrics).</value>
    public Action<WorkItemFailure>? OnError { get; set; }

    /// <summary>Gets or sets a Polly pipeline (retry, timeout, circuit breaker...) that every work item runs through.</summary>
    /// <value>Defaults to <see langword="null"/>: work runs directly.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>Gets or sets the clock used for the disposal deadline and for the wait-time and duration metrics.</summary>
    /// <value>Defaults to <see cref="TimeProvider.System"/>. Must not be <see langword="null"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the name that tags this pool's metrics (<see cref="TelemetryTagNames.Name"/>).</summary>
    /// <value>Defaults to <c>"WorkerPool"</c>. Must not be <see langword="null"/>.</value>
    public string Name { get; set; } = "WorkerPool";

    internal WorkerPoolOptions Clone() => (WorkerPoolOptions)MemberwiseClone();
}
