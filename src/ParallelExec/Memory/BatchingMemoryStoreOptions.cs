namespace ParallelExec.Memory;

/// <summary>
/// Options of <see cref="BatchingMemoryStore"/>: the shared <see cref="ComponentOptions"/> (name, clock of the batch
/// delays and of the read cache, drain timeout, meter factory) plus batching and the read cache; validated and copied
/// when the store is created.
/// </summary>
public sealed class BatchingMemoryStoreOptions : ComponentOptions
{
    /// <summary>
    /// Gets or sets the largest number of single calls coalesced into one bulk call. A batch goes as soon as it is full,
    /// so a value near the number of concurrent callers keeps latency low.
    /// </summary>
    /// <value>The default is 64; must be greater than zero.</value>
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>Gets or sets how long the first call of a batch that is not full waits for company before the batch goes.</summary>
    /// <value>The default is 1 millisecond; must be greater than zero.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Gets or sets how many bulk calls of each kind (reads, writes) may run at once. Two let one batch fill while the
    /// previous one runs.
    /// </summary>
    /// <value>The default is 2; must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = 2;

    /// <summary>Gets or sets how many single calls of each kind may wait for a batch; further callers wait for room.</summary>
    /// <value>The default is 10,000; must be at least <see cref="MaxBatchSize"/>.</value>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets how long a value read through this store is served from its read cache; <see langword="null"/>
    /// turns the cache off. Writes and deletes through this store update the cache at once; changes made to the inner
    /// store by someone else show after at most this long.
    /// </summary>
    /// <value>The default is <see langword="null"/> (no read cache); must be greater than zero when set.</value>
    public TimeSpan? ReadCacheTimeToLive { get; set; }

    /// <summary>Gets or sets the most entries the read cache holds; when full, new reads are not cached until entries expire.</summary>
    /// <value>The default is 10,000; must be greater than zero.</value>
    public int ReadCacheCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets the callback told about every key operation the store cut when its
    /// <see cref="ComponentOptions.DrainTimeout"/> passed during disposal (<see cref="DropReason.DrainTimeout"/>; the
    /// payload's <see cref="DroppedItem.Item"/> is the key, <see cref="DroppedItem.Key"/> its namespace). The caller of
    /// such an operation gets an <see cref="ItemDroppedException"/> too. Runs outside the store's lock; its exceptions
    /// are recorded on the current span and otherwise ignored.
    /// </summary>
    /// <value>The default is <see langword="null"/> (drops still reach the callers, the statistics and the metrics).</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "BatchingMemoryStore";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(MaxBatchSize, nameof(MaxBatchSize))
            .RequirePositive(MaxDelay, nameof(MaxDelay))
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .Require(QueueCapacity >= MaxBatchSize, nameof(QueueCapacity), QueueCapacity, "must be at least MaxBatchSize")
            .Require(ReadCacheTimeToLive is null || ReadCacheTimeToLive > TimeSpan.Zero, nameof(ReadCacheTimeToLive), ReadCacheTimeToLive, "must be greater than zero or null")
            .RequirePositive(ReadCacheCapacity, nameof(ReadCacheCapacity))
            // Spans beyond a timer's range fail here rather than later, deep inside a flush or a cache lookup.
            .Require(MaxDelay <= TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(MaxDelay), MaxDelay, "must be at most 49.17:02:47.2940000 (the longest timer)")
            .Require(ReadCacheTimeToLive is null || ReadCacheTimeToLive <= TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(ReadCacheTimeToLive), ReadCacheTimeToLive, "must be at most 49.17:02:47.2940000 (the longest timer)");
    }

    internal BatchingMemoryStoreOptions Clone() => (BatchingMemoryStoreOptions)MemberwiseClone();
}
