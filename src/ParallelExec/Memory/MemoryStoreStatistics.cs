namespace ParallelExec.Memory;

/// <summary>
/// A snapshot of a memory store's counters, the same shape for every <see cref="IMemoryStore"/> of the library
/// (<see cref="InMemoryStore"/>, <c>SqliteMemoryStore</c>): the ledger, where an item is one key of a get, set or
/// remove, plus the store's lookups.
/// </summary>
/// <remarks>
/// A bulk call of <c>n</c> keys counts <c>n</c> items; a listing is not a key operation and counts none. A call
/// refused for a bad argument counts nothing; a call cancelled before it ran counts its keys as cancelled. A store
/// written by others can publish the same snapshot, hence the public constructor.
/// </remarks>
public sealed class MemoryStoreStatistics : ComponentStatistics
{
    /// <summary>Creates a snapshot.</summary>
    /// <param name="name">The store's name.</param>
    /// <param name="ledger">The ledger counters, one item per key operated on.</param>
    /// <param name="hits">Keys read that had a live value.</param>
    /// <param name="misses">Keys read that had none (absent or expired).</param>
    /// <param name="expired">Expired entries the store has removed.</param>
    /// <param name="entries">Entries held now, where the store knows it cheaply; otherwise <see langword="null"/>.</param>
    /// <param name="bulkCalls">Bulk calls (<c>GetManyAsync</c>, <c>SetManyAsync</c>, <c>DeleteManyAsync</c>) the store has run.</param>
    public MemoryStoreStatistics(string name, LedgerSnapshot ledger, long hits, long misses, long expired, long? entries, long bulkCalls)
        : this(name, ledger, hits, misses, expired, entries, bulkCalls, busyRetries: 0)
    {
    }

    /// <summary>Creates a snapshot of a store that retries when its backing database is busy.</summary>
    /// <param name="name">The store's name.</param>
    /// <param name="ledger">The ledger counters, one item per key operated on.</param>
    /// <param name="hits">Keys read that had a live value.</param>
    /// <param name="misses">Keys read that had none (absent or expired).</param>
    /// <param name="expired">Expired entries the store has removed.</param>
    /// <param name="entries">Entries held now, where the store knows it cheaply; otherwise <see langword="null"/>.</param>
    /// <param name="bulkCalls">Bulk calls (<c>GetManyAsync</c>, <c>SetManyAsync</c>, <c>DeleteManyAsync</c>) the store has run.</param>
    /// <param name="busyRetries">Attempts retried because another connection or process held the database busy or locked.</param>
    public MemoryStoreStatistics(string name, LedgerSnapshot ledger, long hits, long misses, long expired, long? entries, long bulkCalls, long busyRetries)
        : base(name, ledger)
    {
        BusyRetries = busyRetries;
        Hits = hits;
        Misses = misses;
        Expired = expired;
        Entries = entries;
        BulkCalls = bulkCalls;
    }

    /// <summary>Gets how many keys read had a live value.</summary>
    public long Hits { get; }

    /// <summary>Gets how many keys read had no live value (absent or expired).</summary>
    public long Misses { get; }

    /// <summary>Gets how many expired entries the store has removed (when touched, or by its sweep).</summary>
    public long Expired { get; }

    /// <summary>Gets how many entries the store holds now (expired ones not yet removed included), where it knows cheaply; otherwise <see langword="null"/>.</summary>
    public long? Entries { get; }

    /// <summary>Gets how many bulk calls (<c>GetManyAsync</c>, <c>SetManyAsync</c>, <c>DeleteManyAsync</c>) the store has run.</summary>
    public long BulkCalls { get; }

    /// <summary>
    /// Gets how many times an operation was retried because another connection or process held the database busy or
    /// locked (<c>SqliteMemoryStore</c>'s busy retry); 0 for a store that never waits for anyone.
    /// </summary>
    public long BusyRetries { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{base.ToString()}, hits {Hits}, misses {Misses}, expired {Expired}, bulk calls {BulkCalls}, busy retries {BusyRetries}";
}
