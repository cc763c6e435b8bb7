using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// Configuration of a <see cref="WorkerPool"/>: how many items run at once, the bounded queue in front of them, and
/// where items that did not succeed are reported. The shared members (<see cref="ComponentOptions.Name"/>,
/// <see cref="ComponentOptions.TimeProvider"/>, <see cref="ComponentOptions.DrainTimeout"/>,
/// <see cref="ComponentOptions.MeterFactory"/>) come from <see cref="ComponentOptions"/>.
/// </summary>
/// <remarks>
/// The pool validates the options once, when it is created, and copies them, so changing an options object afterwards
/// does not affect a pool built from it.
/// </remarks>
public sealed class WorkerPoolOptions : ComponentOptions
{
    /// <summary>Gets or sets how many items run at the same time (the number of workers).</summary>
    /// <value>Defaults to <see cref="Environment.ProcessorCount"/>. Must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

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
    /// Gets or sets the callback told about every item that did not run to an outcome of its own: evicted or refused by
    /// <see cref="FullMode"/>, cut by the <see cref="ComponentOptions.DrainTimeout"/>, or (fire-and-forget items only)
    /// cancelled while queued or running. <see cref="DroppedItem.Item"/> is the work delegate and
    /// <see cref="DroppedItem.Key"/> its ordering key. It runs outside the pool's lock; an exception it throws is caught
    /// and recorded on the current span.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (drops are still counted, traced and reported to their submitters).</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <summary>
    /// Gets or sets the callback told about every failed fire-and-forget item (posted with <c>TryPost</c> or
    /// <c>PostAsync</c>); <see cref="FailedItem.Item"/> is the work delegate. Awaited items report their failure to their
    /// caller instead. It runs outside the pool's lock; an exception it throws is caught and recorded on the current span.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (a failure is then recorded on the item's span and counted).</value>
    public Action<FailedItem>? OnError { get; set; }

    /// <summary>Gets or sets a Polly pipeline (retry, timeout, circuit breaker...) that every work item runs through.</summary>
    /// <value>Defaults to <see langword="null"/>: work runs directly.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets the number of priority lanes: a submission may name a lane from 0 (the default and lowest) to
    /// <c>PriorityLanes - 1</c>, and workers take from higher lanes first. 1 turns priorities off.
    /// </summary>
    /// <value>Defaults to 1. At most 16.</value>
    public int PriorityLanes { get; set; } = 1;

    /// <summary>
    /// Gets or sets how many times a lane holding items may be passed over by takes from higher lanes before it is
    /// served next: the bound on starvation (see <see cref="WorkerPool.PriorityLanes"/>).
    /// </summary>
    /// <value>Defaults to 8.</value>
    public int StarvationLimit { get; set; } = 8;

    /// <inheritdoc/>
    protected override string DefaultName => "WorkerPool";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .Require(PriorityLanes is >= 1 and <= 16, nameof(PriorityLanes), PriorityLanes, "must be between 1 and 16")
            .RequirePositive(StarvationLimit, nameof(StarvationLimit));
    }
}
