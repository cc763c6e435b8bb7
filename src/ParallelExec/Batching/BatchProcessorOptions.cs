using Polly;

namespace ParallelExec.Batching;

/// <summary>
/// Configures a <see cref="BatchProcessor{TItem, TResult}"/>: when batches are flushed, how many run at once, how the
/// intake is bounded, coalescing, failure isolation, resilience, adaptive sizing and time.
/// </summary>
/// <typeparam name="TItem">The type of the submitted items.</typeparam>
/// <remarks>
/// The options are validated once, when the processor is built; one <see cref="ArgumentException"/> lists every invalid
/// value. The processor copies the options, so changing this object afterwards has no effect on a running processor.
/// The shared options (<see cref="ComponentOptions.Name"/>, <see cref="ComponentOptions.TimeProvider"/>,
/// <see cref="ComponentOptions.DrainTimeout"/>, <see cref="ComponentOptions.MeterFactory"/>) come from the base class;
/// the time provider measures <see cref="MaxDelay"/>, latencies and the drain timeout.
/// </remarks>
public sealed class BatchProcessorOptions<TItem> : ComponentOptions
{
    /// <summary>Gets or sets the largest number of distinct items in one handler call; a batch that reaches it is flushed at once.</summary>
    /// <value>The default is 100. Must be greater than zero.</value>
    public int MaxBatchSize { get; set; } = 100;

    /// <summary>
    /// Gets or sets how long the oldest item of an open batch may wait before the batch is flushed, however small it is.
    /// Measured with <see cref="TimeProvider"/>.
    /// </summary>
    /// <value>The default is 10 milliseconds. Must be greater than zero, or <see cref="Timeout.InfiniteTimeSpan"/> to flush only by size, <see cref="BatchProcessor{TItem, TResult}.FlushAsync"/> and disposal.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <summary>Gets or sets how many handler calls (batches) may run at the same time.</summary>
    /// <value>The default is 1 (batches are handled one after another, in flush order). Must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    /// <summary>
    /// Gets or sets how many items may wait for a handler call (in the open batch and in flushed batches not yet started).
    /// Items already inside a running handler call do not count.
    /// </summary>
    /// <value>The default is 10,000. Must be at least <see cref="MaxBatchSize"/>.</value>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>Gets or sets what a submission does when <see cref="QueueCapacity"/> items are already waiting.</summary>
    /// <value>The default is <see cref="QueueFullMode.Wait"/>: the submitting call waits asynchronously for room.</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets a callback told about every submission that was dropped or rejected by <see cref="FullMode"/>, or
    /// cut by <see cref="ComponentOptions.DrainTimeout"/> (queued, or running when the handler's token was cancelled).
    /// <see cref="DroppedItem.Item"/> is the submitted item (a <typeparamref name="TItem"/>); <see cref="DroppedItem.Key"/>
    /// is <see langword="null"/>. It runs outside the processor's lock, once per submission; an exception it throws is
    /// recorded on the current trace span.
    /// </summary>
    /// <value>The default is <see langword="null"/> (drops still reach the awaiting caller, the statistics and the metrics).</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <summary>
    /// Gets or sets a callback told about every fire-and-forget item (<see cref="BatchProcessor{TItem, TResult}.TryPost"/>,
    /// <see cref="BatchProcessor{TItem, TResult}.PostAsync"/>) that failed in the handler; <see cref="FailedItem.Item"/> is
    /// the submitted item. It runs outside the processor's lock; an exception it throws is recorded on the current trace span.
    /// </summary>
    /// <value>
    /// The default is <see langword="null"/>: a failed posted item is then recorded on the <c>parallelexec.batch.flush</c>
    /// span of its handler call (status error and an <c>exception</c> event) and counted in
    /// <c>parallelexec.batch.items.failed</c>.
    /// </value>
    public Action<FailedItem>? OnError { get; set; }

    /// <summary>
    /// Gets or sets whether equal items submitted while a batch is open share one slot of that batch (DataLoader
    /// style): the handler sees the item once and every caller gets the same result (or exception).
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool Coalesce { get; set; }

    /// <summary>Gets or sets the equality used by <see cref="Coalesce"/>.</summary>
    /// <value>The default is <see langword="null"/>, meaning <see cref="EqualityComparer{T}.Default"/>.</value>
    public IEqualityComparer<TItem>? Comparer { get; set; }

    /// <summary>Gets or sets what happens to the items of a batch whose handler call throws.</summary>
    /// <value>The default is <see cref="BatchFailureMode.FailAll"/>.</value>
    public BatchFailureMode FailureMode { get; set; } = BatchFailureMode.FailAll;

    /// <summary>Gets or sets what an item gets when a by-key handler's dictionary has no entry for it.</summary>
    /// <value>The default is <see cref="MissingKeyBehavior.Throw"/> (a per-item <see cref="KeyNotFoundException"/>).</value>
    public MissingKeyBehavior MissingKeyBehavior { get; set; } = MissingKeyBehavior.Throw;

    /// <summary>
    /// Gets or sets an optional Polly pipeline (retry, timeout, circuit breaker, ...) that wraps every bulk handler call,
    /// including the smaller calls made while bisecting.
    /// </summary>
    /// <value>The default is <see langword="null"/> (the handler is called directly).</value>
    public Polly.ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>A result-typed pipeline (<c>ResiliencePipeline&lt;IReadOnlyList&lt;TResult&gt;&gt;</c> for by-position
    /// handlers, <c>ResiliencePipeline&lt;IReadOnlyDictionary&lt;TItem, TResult&gt;&gt;</c> for by-key ones), set through the
    /// builder's <c>WithResilience</c> overloads (these options know no result type). It replaces
    /// <see cref="ResiliencePipeline"/> when set.</summary>
    internal object? ResultResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets whether the batch size adapts, between <see cref="MinBatchSize"/> and <see cref="MaxBatchSize"/>, so
    /// that handler calls take about <see cref="TargetLatency"/>. The current size shows in
    /// <see cref="BatchProcessorStatistics.CurrentBatchSize"/>.
    /// </summary>
    /// <value>The default is <see langword="false"/> (every batch may grow to <see cref="MaxBatchSize"/>).</value>
    public bool AdaptiveBatchSize { get; set; }

    /// <summary>Gets or sets the smallest size adaptive sizing may choose.</summary>
    /// <value>The default is 1. Must be between 1 and <see cref="MaxBatchSize"/>.</value>
    public int MinBatchSize { get; set; } = 1;

    /// <summary>Gets or sets the handler latency adaptive sizing aims for.</summary>
    /// <value>The default is 100 milliseconds. Must be greater than zero.</value>
    public TimeSpan TargetLatency { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <inheritdoc/>
    protected override string DefaultName => "BatchProcessor";

    /// <summary>Copies the options so that later changes by the caller cannot race with the running processor.</summary>
    internal BatchProcessorOptions<TItem> Clone() => (BatchProcessorOptions<TItem>)MemberwiseClone();

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(MaxBatchSize, nameof(MaxBatchSize))
            .RequirePositiveOrInfinite(MaxDelay, nameof(MaxDelay))
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .Require(QueueCapacity >= MaxBatchSize && QueueCapacity > 0, nameof(QueueCapacity), QueueCapacity, $"must be at least MaxBatchSize ({MaxBatchSize})")
            .RequireDefined(FullMode, nameof(FullMode))
            .RequireDefined(FailureMode, nameof(FailureMode))
            .RequireDefined(MissingKeyBehavior, nameof(MissingKeyBehavior))
            .Require(MinBatchSize >= 1 && MinBatchSize <= MaxBatchSize, nameof(MinBatchSize), MinBatchSize, $"must be between 1 and MaxBatchSize ({MaxBatchSize})")
            .RequirePositive(TargetLatency, nameof(TargetLatency))
            // Spans beyond a timer's range and batch buffers beyond memory fail here rather than later, deep inside.
            .RequireTimerRange(MaxDelay, nameof(MaxDelay))
            .RequireTimerRange(TargetLatency, nameof(TargetLatency))
            .Require(MaxBatchSize <= 1 << 20, nameof(MaxBatchSize), MaxBatchSize, "must be at most 1048576 (a batch's buffers are allocated whole)");
    }
}
