namespace ParallelExec.Memory;

/// <summary>A snapshot of a <see cref="BatchingMemoryStore"/>'s counters.</summary>
public sealed class BatchingMemoryStoreStatistics
{
    internal BatchingMemoryStoreStatistics(long reads, long readsShared, long readBatches, long cacheHits, long writes, long writeBatches)
    {
        Reads = reads;
        ReadsShared = readsShared;
        ReadBatches = readBatches;
        CacheHits = cacheHits;
        Writes = writes;
        WriteBatches = writeBatches;
    }

    /// <summary>Gets the number of single reads that went to the read batcher (cache misses).</summary>
    public long Reads { get; }

    /// <summary>Gets the number of those reads that shared another caller's read of the same key.</summary>
    public long ReadsShared { get; }

    /// <summary>Gets the number of read batches flushed to the inner store.</summary>
    public long ReadBatches { get; }

    /// <summary>Gets the number of single reads answered by the read cache.</summary>
    public long CacheHits { get; }

    /// <summary>Gets the number of single writes submitted.</summary>
    public long Writes { get; }

    /// <summary>Gets the number of write batches flushed to the inner store.</summary>
    public long WriteBatches { get; }
}
