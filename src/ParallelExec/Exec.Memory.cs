using ParallelExec.Memory;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>Creates the embedded, thread-safe in-process <see cref="IMemoryStore"/>.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <returns>A new <see cref="InMemoryStore"/>.</returns>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public static InMemoryStore MemoryStore(InMemoryStoreOptions? options = null) => new(options);

    /// <summary>
    /// Wraps <paramref name="inner"/> in a <see cref="BatchingMemoryStore"/> that coalesces concurrent single calls into
    /// bulk calls, shares concurrent reads of one key and optionally caches reads.
    /// </summary>
    /// <param name="inner">The store that receives the bulk calls (for example a <c>SqliteMemoryStore</c>).</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <returns>A new <see cref="BatchingMemoryStore"/>; dispose it to flush pending writes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public static BatchingMemoryStore BatchingMemoryStore(IMemoryStore inner, BatchingMemoryStoreOptions? options = null) => new(inner, options);
}
