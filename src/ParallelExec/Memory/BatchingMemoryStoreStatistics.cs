namespace ParallelExec.Memory;

/// <summary>
/// A snapshot of a <see cref="BatchingMemoryStore"/>'s counters: its ledger (one item per key read, written or deleted
/// through it) and how it batched them.
/// </summary>
/// <remarks>
/// A single get or set counts as queued from the call until its bulk call has answered it; deletes, bulk calls and
/// listings, which go straight to the inner store, count as in flight while they run. Hits, misses and expiry are the
/// inner store's to count (its own <c>GetStatistics()</c>).
/// </remarks>
public sealed class BatchingMemoryStoreStatistics : ComponentStatistics
{
    internal BatchingMemoryStoreStatistics(string name, LedgerSnapshot ledger, long reads, long readsShared, long readBatches, long cacheHits, long writes, long writeBatches)
        : base(name, ledger)
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

    /// <summary>Gets the number of read batches run on the inner store.</summary>
    public long ReadBatches { get; }

    /// <summary>Gets the number of single reads answered by the read cache.</summary>
    public long CacheHits { get; }

    /// <summary>Gets the number of single writes that went to the write batcher.</summary>
    public long Writes { get; }

    /// <summary>Gets the number of write batches run on the inner store.</summary>
    public long WriteBatches { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{base.ToString()}, reads {Reads} ({ReadsShared} shared, {CacheHits} cached) in {ReadBatches} batches, writes {Writes} in {WriteBatches} batches";
}
