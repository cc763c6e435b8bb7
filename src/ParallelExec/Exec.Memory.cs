using ParallelExec.Memory;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>Starts building the embedded, thread-safe in-process <see cref="IMemoryStore"/>.</summary>
    /// <returns>A single-use builder; <c>Build()</c> returns a new <see cref="InMemoryStore"/>.</returns>
    public static InMemoryStoreBuilder MemoryStore() => new();

    /// <summary>
    /// Starts building a <see cref="BatchingMemoryStore"/> over <paramref name="inner"/>: it coalesces concurrent single
    /// calls into bulk calls, shares concurrent reads of one key and optionally caches reads.
    /// </summary>
    /// <param name="inner">The store that receives the bulk calls (for example a <c>SqliteMemoryStore</c>); not disposed by the decorator.</param>
    /// <returns>A single-use builder; <c>Build()</c> returns the store, to be disposed to flush pending writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is <see langword="null"/>.</exception>
    public static BatchingMemoryStoreBuilder BatchingMemoryStore(IMemoryStore inner) => new(inner);
}
