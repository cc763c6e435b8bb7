using Polly;

namespace ParallelExec.Batching;

/// <summary>
/// Fluent, single-use builder of a <see cref="BatchProcessor{TItem, TResult}"/>; start it with
/// <see cref="Exec.Batch{TItem, TResult}(Func{IReadOnlyList{TItem}, CancellationToken, ValueTask{IReadOnlyList{TResult}}})"/>
/// or <see cref="Exec.BatchByKey{TItem, TResult}(Func{IReadOnlyList{TItem}, CancellationToken, ValueTask{IReadOnlyDictionary{TItem, TResult}}})"/>.
/// </summary>
/// <typeparam name="TItem">The type of the submitted items.</typeparam>
/// <typeparam name="TResult">The type of each item's result.</typeparam>
/// <remarks>Every method returns the same builder. Options are validated by <see cref="Build"/>; after it, the builder refuses further use.</remarks>
public sealed class BatchProcessorBuilder<TItem, TResult>
    where TItem : notnull
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? _byPosition;
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? _byKey;
    private readonly BatchProcessorOptions<TItem> _options = new();
    private bool _built;

    internal BatchProcessorBuilder(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? byPosition,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? byKey)
    {
        _byPosition = byPosition;
        _byKey = byKey;
    }

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.MaxBatchSize"/>.</summary>
    /// <param name="maxBatchSize">The largest number of distinct items per handler call.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithMaxBatchSize(int maxBatchSize) => Set(o => o.MaxBatchSize = maxBatchSize);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.MaxDelay"/>.</summary>
    /// <param name="maxDelay">How long the oldest item of a batch may wait.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithMaxDelay(TimeSpan maxDelay) => Set(o => o.MaxDelay = maxDelay);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.MaxConcurrentBatches"/>.</summary>
    /// <param name="maxConcurrentBatches">How many handler calls may run at once.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithMaxConcurrentBatches(int maxConcurrentBatches) =>
        Set(o => o.MaxConcurrentBatches = maxConcurrentBatches);

    /// <summary>Bounds the intake: <see cref="BatchProcessorOptions{TItem}.QueueCapacity"/>, <see cref="BatchProcessorOptions{TItem}.FullMode"/> and <see cref="BatchProcessorOptions{TItem}.OnDropped"/>.</summary>
    /// <param name="capacity">How many items may wait for a handler call.</param>
    /// <param name="fullMode">What a submission does when the intake is full.</param>
    /// <param name="onDropped">Told about every dropped or rejected submission; optional.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait, Action<TItem, DropReason>? onDropped = null) =>
        Set(o =>
        {
            o.QueueCapacity = capacity;
            o.FullMode = fullMode;
            o.OnDropped = onDropped;
        });

    /// <summary>Turns on coalescing of equal items (<see cref="BatchProcessorOptions{TItem}.Coalesce"/>).</summary>
    /// <param name="comparer">The equality to use; <see langword="null"/> for the default.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithCoalescing(IEqualityComparer<TItem>? comparer = null) =>
        Set(o =>
        {
            o.Coalesce = true;
            o.Comparer = comparer;
        });

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.FailureMode"/>.</summary>
    /// <param name="failureMode">Fail the whole batch, or bisect to isolate poison items.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithFailureMode(BatchFailureMode failureMode) => Set(o => o.FailureMode = failureMode);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.MissingKeyBehavior"/> (by-key handlers).</summary>
    /// <param name="behavior">What an item missing from the handler's dictionary gets.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithMissingKeyBehavior(MissingKeyBehavior behavior) => Set(o => o.MissingKeyBehavior = behavior);

    /// <summary>Wraps every handler call in a Polly pipeline (<see cref="BatchProcessorOptions{TItem}.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResiliencePipeline = pipeline);
    }

    /// <summary>Turns on adaptive batch sizing (<see cref="BatchProcessorOptions{TItem}.AdaptiveBatchSize"/>).</summary>
    /// <param name="minBatchSize">The smallest size it may choose.</param>
    /// <param name="targetLatency">The handler latency it aims for.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithAdaptiveBatchSize(int minBatchSize, TimeSpan targetLatency) =>
        Set(o =>
        {
            o.AdaptiveBatchSize = true;
            o.MinBatchSize = minBatchSize;
            o.TargetLatency = targetLatency;
        });

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.OnError"/>, told about fire-and-forget items that failed.</summary>
    /// <param name="onError">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> OnError(Action<TItem, Exception> onError) => Set(o => o.OnError = onError);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.DisposeTimeout"/>.</summary>
    /// <param name="timeout">How long disposal lets pending batches drain.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithDisposeTimeout(TimeSpan timeout) => Set(o => o.DisposeTimeout = timeout);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.TimeProvider"/>.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithTimeProvider(TimeProvider timeProvider) => Set(o => o.TimeProvider = timeProvider);

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.Name"/>.</summary>
    /// <param name="name">The name for metrics, traces and statistics.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithName(string name) => Set(o => o.Name = name);

    /// <summary>Applies any change to the options directly.</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> Configure(Action<BatchProcessorOptions<TItem>> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Set(configure);
    }

    /// <summary>Validates the options and builds the processor. The builder cannot be used again.</summary>
    /// <returns>The processor; dispose it to flush and drain.</returns>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessor<TItem, TResult> Build()
    {
        ThrowIfBuilt();
        _built = true;
        return _byPosition is not null
            ? new BatchProcessor<TItem, TResult>(_byPosition, _options)
            : BatchProcessor<TItem, TResult>.CreateByKey(_byKey!, _options);
    }

    private BatchProcessorBuilder<TItem, TResult> Set(Action<BatchProcessorOptions<TItem>> change)
    {
        ThrowIfBuilt();
        change(_options);
        return this;
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("The batch processor builder has already built; create a new builder with Exec.Batch.");
        }
    }
}
