namespace ParallelExec.Memory;

/// <summary>
/// Options of <see cref="BatchingMemoryStore"/>: the shared <see cref="ComponentOptions"/> (name, clock of the batch
/// delays and of the read cache, drain timeout, meter factory) plus batching and the read cache; validated and copied
/// when the store is created.
/// </summary>
public sealed class BatchingMemoryStoreOptions : ComponentOptions
{
    // Upper bounds that keep a typo from exhausting memory: a batch's arrays are allocated at MaxBatchSize when it opens,
    // and the queue and the cache grow to their capacities. Each is far above any useful value.
    internal const int MaxBatchSizeLimit = 65_536;
    internal const int QueueCapacityLimit = 1_048_576;
    internal const int ReadCacheCapacityLimit = 16_777_216;
    internal const int MaxDegreeOfParallelismLimit = 1024;
    /// <summary>
    /// Gets or sets the largest number of single calls coalesced into one bulk call. A batch goes as soon as it is full,
    /// so a value near the number of concurrent callers keeps latency low.
    /// </summary>
    /// <value>The default is 64; must be between 1 and 65,536.</value>
    public int MaxBatchSize { get; set; } = 64;

    /// <summary>
    /// Gets or sets how long the first call of a batch that is not full waits at most before the batch goes. A call that
    /// finds no batch of its kind running does not wait at all, and a gathering batch goes as soon as the running one
    /// ends; this bounds the wait when something else holds it up.
    /// </summary>
    /// <value>The default is 1 millisecond; must be greater than zero.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Gets or sets how many bulk calls of each kind (reads, writes) may run at once. Two let one batch fill while the
    /// previous one runs.
    /// </summary>
    /// <value>The default is 2; must be between 1 and 1,024.</value>
    public int MaxDegreeOfParallelism { get; set; } = 2;

    /// <summary>
    /// Gets or sets a value indicating whether a batch goes without waiting when nothing holds it up: a call that finds
    /// no batch of its kind running goes at once (with whatever joined it meanwhile), and the calls that gathered while
    /// a batch ran go as soon as it ends. Off, a batch goes only when full or after <see cref="MaxDelay"/>, which costs
    /// a lone or mixed read/write caller up to <see cref="MaxDelay"/> per call (measured: 8 callers with one write in
    /// four ran 120x slower than one caller straight on SQLite).
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool EagerFlush { get; set; } = true;

    /// <summary>Gets or sets how many single calls of each kind may wait for a batch; further callers wait for room.</summary>
    /// <value>The default is 10,000; must be at least <see cref="MaxBatchSize"/> and at most 1,048,576.</value>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets how long a value read through this store is served from its read cache; <see langword="null"/>
    /// turns the cache off. Writes and deletes through this store update the cache at once; changes made to the inner
    /// store by someone else show after at most this long.
    /// </summary>
    /// <value>The default is <see langword="null"/> (no read cache); must be greater than zero when set.</value>
    public TimeSpan? ReadCacheTimeToLive { get; set; }

    /// <summary>Gets or sets the most entries the read cache holds; when full, new reads are not cached until entries expire.</summary>
    /// <value>The default is 10,000; must be between 1 and 16,777,216.</value>
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
            .Require(MaxBatchSize is > 0 and <= MaxBatchSizeLimit, nameof(MaxBatchSize), MaxBatchSize, $"must be between 1 and {MaxBatchSizeLimit}")
            .RequirePositive(MaxDelay, nameof(MaxDelay))
            .Require(MaxDegreeOfParallelism is > 0 and <= MaxDegreeOfParallelismLimit, nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, $"must be between 1 and {MaxDegreeOfParallelismLimit}")
            .Require(QueueCapacity >= MaxBatchSize && QueueCapacity <= QueueCapacityLimit, nameof(QueueCapacity), QueueCapacity, $"must be at least MaxBatchSize and at most {QueueCapacityLimit}")
            .Require(ReadCacheTimeToLive is null || ReadCacheTimeToLive > TimeSpan.Zero, nameof(ReadCacheTimeToLive), ReadCacheTimeToLive, "must be greater than zero or null")
            .Require(ReadCacheCapacity is > 0 and <= ReadCacheCapacityLimit, nameof(ReadCacheCapacity), ReadCacheCapacity, $"must be between 1 and {ReadCacheCapacityLimit}")
            // Spans beyond a timer's range fail here rather than later, deep inside a flush or a cache lookup.
            .RequireTimerRange(MaxDelay, nameof(MaxDelay))
            .RequireTimerRange(ReadCacheTimeToLive, nameof(ReadCacheTimeToLive));
    }

    internal BatchingMemoryStoreOptions Clone() => (BatchingMemoryStoreOptions)MemberwiseClone();
}
