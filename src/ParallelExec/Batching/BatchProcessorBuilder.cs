using Polly;

namespace ParallelExec.Batching;

/// <summary>
/// Fluent, single-use builder of a <see cref="BatchProcessor{TItem, TResult}"/>; start it with
/// <see cref="Exec.Batch{TItem, TResult}(Func{IReadOnlyList{TItem}, CancellationToken, ValueTask{IReadOnlyList{TResult}}})"/>
/// or <see cref="Exec.BatchByKey{TItem, TResult}(Func{IReadOnlyList{TItem}, CancellationToken, ValueTask{IReadOnlyDictionary{TItem, TResult}}})"/>.
/// </summary>
/// <typeparam name="TItem">The type of the submitted items.</typeparam>
/// <typeparam name="TResult">The type of each item's result.</typeparam>
/// <remarks>
/// Every method returns the same builder. Options are validated by
/// <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>; after it, the builder refuses further use. The
/// shared settings (<c>Configure</c>, <c>WithName</c>, <c>WithTimeProvider</c>, <c>WithDrainTimeout</c>,
/// <c>WithMeterFactory</c>) come from the base class.
/// </remarks>
public sealed class BatchProcessorBuilder<TItem, TResult>
    : ComponentBuilder<BatchProcessorBuilder<TItem, TResult>, BatchProcessorOptions<TItem>, BatchProcessor<TItem, TResult>>
    where TItem : notnull
{
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? _byPosition;
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? _byKey;

    internal BatchProcessorBuilder(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? byPosition,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? byKey)
        : base(new BatchProcessorOptions<TItem>())
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

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.MaxDegreeOfParallelism"/>.</summary>
    /// <param name="maxDegreeOfParallelism">How many handler calls (batches) may run at once.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) =>
        Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Bounds the intake: <see cref="BatchProcessorOptions{TItem}.QueueCapacity"/> and <see cref="BatchProcessorOptions{TItem}.FullMode"/>.</summary>
    /// <param name="capacity">How many items may wait for a handler call.</param>
    /// <param name="fullMode">What a submission does when the intake is full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) =>
        Set(o =>
        {
            o.QueueCapacity = capacity;
            o.FullMode = fullMode;
        });

    /// <summary>Sets <see cref="BatchProcessorOptions{TItem}.OnDropped"/>, told about every dropped or rejected submission.</summary>
    /// <param name="onDropped">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> OnDropped(Action<DroppedItem> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        return Set(o => o.OnDropped = onDropped);
    }

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
        return Set(o =>
        {
            o.ResiliencePipeline = pipeline;
            o.ResultResiliencePipeline = null;
        });
    }

    /// <summary>
    /// Wraps every call of a by-position handler in a Polly pipeline typed by the handler's result, so that strategies
    /// that look at the result (a retry or hedge on a partial list, a fallback list) apply. Replaces a pipeline set with
    /// <see cref="WithResilience(ResiliencePipeline)"/>; the last call wins.
    /// </summary>
    /// <param name="pipeline">The pipeline; its result is the handler's list of results.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The builder's handler returns results by key (use the
    /// <c>ResiliencePipeline&lt;IReadOnlyDictionary&lt;TItem, TResult&gt;&gt;</c> overload).</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithResilience(ResiliencePipeline<IReadOnlyList<TResult>> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (_byPosition is null)
        {
            throw new ArgumentException(
                "This builder's handler returns results by key: pass a ResiliencePipeline<IReadOnlyDictionary<TItem, TResult>>.", nameof(pipeline));
        }

        return SetResultPipeline(pipeline);
    }

    /// <summary>
    /// Wraps every call of a by-key handler in a Polly pipeline typed by the handler's result, so that strategies that
    /// look at the result (a retry when keys are missing, a fallback dictionary) apply. Replaces a pipeline set with
    /// <see cref="WithResilience(ResiliencePipeline)"/>; the last call wins.
    /// </summary>
    /// <param name="pipeline">The pipeline; its result is the handler's dictionary of results.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The builder's handler returns results by position (use the
    /// <c>ResiliencePipeline&lt;IReadOnlyList&lt;TResult&gt;&gt;</c> overload).</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> WithResilience(ResiliencePipeline<IReadOnlyDictionary<TItem, TResult>> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        if (_byKey is null)
        {
            throw new ArgumentException(
                "This builder's handler returns results by position: pass a ResiliencePipeline<IReadOnlyList<TResult>>.", nameof(pipeline));
        }

        return SetResultPipeline(pipeline);
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
    /// <exception cref="ArgumentNullException"><paramref name="onError"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public BatchProcessorBuilder<TItem, TResult> OnError(Action<FailedItem> onError)
    {
        ArgumentNullException.ThrowIfNull(onError);
        return Set(o => o.OnError = onError);
    }

    private BatchProcessorBuilder<TItem, TResult> SetResultPipeline(object pipeline) => Set(o =>
    {
        o.ResiliencePipeline = null;
        o.ResultResiliencePipeline = pipeline;
    });

    /// <inheritdoc/>
    protected override BatchProcessor<TItem, TResult> Create(BatchProcessorOptions<TItem> options) => _byPosition is not null
        ? new BatchProcessor<TItem, TResult>(_byPosition, options)
        : BatchProcessor<TItem, TResult>.CreateByKey(_byKey!, options);
}
