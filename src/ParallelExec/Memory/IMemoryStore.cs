namespace ParallelExec.Memory;

/// <summary>
/// A key/value memory: byte values under string keys, grouped in namespaces, with an optional time to live, single and
/// bulk operations, and key listing by prefix within a namespace.
/// </summary>
/// <remarks>
/// <para>
/// Contract every implementation keeps (and the shared tests check):
/// a namespace and a key are non-empty strings compared ordinally, or the call throws <see cref="ArgumentException"/>
/// (<see cref="ArgumentNullException"/> for <see langword="null"/>); a value is copied by the store, so the caller may
/// reuse its buffer once the returned task has completed; a write is visible to every later read once its task has
/// completed; an expired entry is never returned or listed; a bulk write applies all its entries or none of them
/// (cancellation or failure included), though a concurrent reader of an in-process store may observe it midway.
/// </para>
/// <para>Typed values: see <see cref="MemoryStoreJsonExtensions"/>.</para>
/// </remarks>
public interface IMemoryStore
{
    /// <summary>Gets the value stored under <paramref name="key"/> in <paramref name="namespaceName"/>.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The value, or <see langword="null"/> when the key is absent or expired.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default);

    /// <summary>Gets the values of several keys of one namespace in one call.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="keys">The keys; none may be <see langword="null"/> or empty. Duplicates are read once.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The values found, by key; absent and expired keys are not in the dictionary.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="keys"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> is empty, or a key is <see langword="null"/> or empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Stores <paramref name="value"/> under <paramref name="key"/>, replacing any previous value.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="value">The value; copied by the store.</param>
    /// <param name="timeToLive">How long the entry lives, measured by the store's <see cref="TimeProvider"/>; <see langword="null"/> for ever.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write is not applied.</param>
    /// <returns>A task that completes once the store has accepted the write.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is zero or negative.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default);

    /// <summary>Stores several entries of one namespace, all or none.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="entries">The entries; no key may be <see langword="null"/> or empty. For a repeated key the last value wins.</param>
    /// <param name="timeToLive">How long the entries live; <see langword="null"/> for ever.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled bulk write leaves nothing behind.</param>
    /// <returns>A task that completes once the store has accepted every entry.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="entries"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> is empty, or a key is <see langword="null"/> or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeToLive"/> is zero or negative.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default);

    /// <summary>Deletes the entry under <paramref name="key"/>.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="key">The key; not empty.</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    /// <returns><see langword="true"/> when a live entry was deleted; <see langword="false"/> when there was none.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="key"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> or <paramref name="key"/> is empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes several keys of one namespace, all or none.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="keys">The keys; none may be <see langword="null"/> or empty.</param>
    /// <param name="cancellationToken">Cancels the delete.</param>
    /// <returns>The number of live entries deleted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="keys"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> is empty, or a key is <see langword="null"/> or empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default);

    /// <summary>Lists the live keys of a namespace that start with <paramref name="prefix"/>, in ordinal order.</summary>
    /// <param name="namespaceName">The namespace; not empty.</param>
    /// <param name="prefix">The prefix (ordinal comparison); empty for every key.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The matching keys, sorted ordinally.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="namespaceName"/> or <paramref name="prefix"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="namespaceName"/> is empty.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default);
}
