namespace ParallelExec.Memory;

/// <summary>
/// Builds a <see cref="BatchingMemoryStore"/> over an inner store (<see cref="Exec.BatchingMemoryStore"/>): batching,
/// the read cache and the drop callback, besides the methods every builder shares. Single use.
/// </summary>
public sealed class BatchingMemoryStoreBuilder : ComponentBuilder<BatchingMemoryStoreBuilder, BatchingMemoryStoreOptions, BatchingMemoryStore>
{
    private readonly IMemoryStore _inner;

    internal BatchingMemoryStoreBuilder(IMemoryStore inner)
        : base(new BatchingMemoryStoreOptions())
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <summary>Sets when a batch goes: when it holds <paramref name="maxBatchSize"/> calls, or when its first call has waited <paramref name="maxDelay"/>.</summary>
    /// <param name="maxBatchSize">The most single calls in one bulk call (<see cref="BatchingMemoryStoreOptions.MaxBatchSize"/>).</param>
    /// <param name="maxDelay">How long a batch that is not full waits (<see cref="BatchingMemoryStoreOptions.MaxDelay"/>).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public BatchingMemoryStoreBuilder WithBatching(int maxBatchSize, TimeSpan maxDelay) => Set(o =>
    {
        o.MaxBatchSize = maxBatchSize;
        o.MaxDelay = maxDelay;
    });

    /// <summary>Sets how many bulk calls of each kind may run at once (<see cref="BatchingMemoryStoreOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public BatchingMemoryStoreBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) => Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Turns the read cache on (<see cref="BatchingMemoryStoreOptions.ReadCacheTimeToLive"/>, <see cref="BatchingMemoryStoreOptions.ReadCacheCapacity"/>).</summary>
    /// <param name="timeToLive">How long a read value is served from the cache.</param>
    /// <param name="capacity">The most entries the cache holds.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public BatchingMemoryStoreBuilder WithReadCache(TimeSpan timeToLive, int capacity = 10_000) => Set(o =>
    {
        o.ReadCacheTimeToLive = timeToLive;
        o.ReadCacheCapacity = capacity;
    });

    /// <summary>Sets the callback told about every key operation cut by the drain timeout (<see cref="BatchingMemoryStoreOptions.OnDropped"/>).</summary>
    /// <param name="onDropped">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public BatchingMemoryStoreBuilder OnDropped(Action<DroppedItem> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        return Set(o => o.OnDropped = onDropped);
    }

    /// <inheritdoc/>
    protected override BatchingMemoryStore Create(BatchingMemoryStoreOptions options) => new(_inner, options);
}
