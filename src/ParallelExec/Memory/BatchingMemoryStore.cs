using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using ParallelExec.Batching;

namespace ParallelExec.Memory;

/// <summary>
/// An <see cref="IMemoryStore"/> decorator that turns concurrent single calls into bulk calls on the inner store:
/// concurrent <see cref="GetAsync"/> calls become one <see cref="IMemoryStore.GetManyAsync"/> per namespace (callers
/// asking for the same key share one read), concurrent <see cref="SetAsync"/> calls become one
/// <see cref="IMemoryStore.SetManyAsync"/> per namespace and time to live; an optional read cache answers repeated reads.
/// </summary>
/// <remarks>
/// <para>
/// Built on <see cref="BatchProcessor{TItem, TResult}"/>: a batch goes when it holds
/// <see cref="BatchingMemoryStoreOptions.MaxBatchSize"/> calls or when its first call has waited
/// <see cref="BatchingMemoryStoreOptions.MaxDelay"/>. A write's task completes only after the inner store's bulk call
/// that carried it has returned, so a write is visible to every read issued after its await returns; it fails with the
/// inner store's exception if its group failed. Reads are shared only with reads still waiting for their batch, never
/// with a read already running, so a read issued after a write's await never sees an older value.
/// </para>
/// <para>
/// Cancellation: a call cancelled while it waits for its batch leaves the batch and is not applied; once its batch runs
/// it completes regardless. Deletes, bulk calls and listings go straight to the inner store. Disposal flushes and
/// drains both batchers; it does not dispose the inner store.
/// </para>
/// </remarks>
public sealed class BatchingMemoryStore : IMemoryStore, IAsyncDisposable
{
    private readonly IMemoryStore _inner;
    private readonly BatchingMemoryStoreOptions _options;
    private readonly BatchProcessor<StoreKey, ReadOnlyMemory<byte>?> _reads;
    private readonly BatchProcessor<PendingWrite, WriteOutcome> _writes;
    private readonly ConcurrentDictionary<StoreKey, CachedValue>? _cache;
    private long _writeGeneration;
    private long _cacheHits;
    private int _cacheCount;
    private int _disposed;

    /// <summary>Initializes a new instance of the <see cref="BatchingMemoryStore"/> class.</summary>
    /// <param name="inner">The store that receives the bulk calls; not disposed by this store.</param>
    /// <param name="options">The options; <see langword="null"/> for the defaults. They are validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public BatchingMemoryStore(IMemoryStore inner, BatchingMemoryStoreOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _options = (options ?? new BatchingMemoryStoreOptions()).Clone();
        _options.Validate();
        _cache = _options.ReadCacheTimeToLive is null ? null : new ConcurrentDictionary<StoreKey, CachedValue>();
        _reads = new BatchProcessor<StoreKey, ReadOnlyMemory<byte>?>(ReadBatchAsync, ProcessorOptions<StoreKey>(coalesce: true, "reads"));
        _writes = new BatchProcessor<PendingWrite, WriteOutcome>(WriteBatchAsync, ProcessorOptions<PendingWrite>(coalesce: false, "writes"));
    }

    /// <inheritdoc/>
    public async ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        ThrowIfDisposed();
        var storeKey = new StoreKey(namespaceName, key);
        if (_cache is not null && _cache.TryGetValue(storeKey, out var cached))
        {
            if (cached.ExpiresAt > _options.TimeProvider.GetTimestamp())
            {
                Interlocked.Increment(ref _cacheHits);
                return cached.Value;
            }

            RemoveCached(new KeyValuePair<StoreKey, CachedValue>(storeKey, cached));
        }

        var generation = Volatile.Read(ref _writeGeneration);
        var value = await _reads.SubmitAsync(storeKey, cancellationToken).ConfigureAwait(false);
        if (_cache is not null && Volatile.Read(ref _writeGeneration) == generation)
        {
            // Cached only if no write through this store started or finished while the read ran, so a read that
            // raced a write never caches the older value over the newer one.
            AddCached(storeKey, value);
        }

        return value;
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        ThrowIfDisposed();
        var storeKey = new StoreKey(namespaceName, key);
        BeginWrite(storeKey);
        try
        {
            // The caller's buffer is not copied: this await returns only after the inner store has taken its copy.
            var outcome = await _writes.SubmitAsync(new PendingWrite(storeKey, value, timeToLive), cancellationToken).ConfigureAwait(false);
            outcome.ThrowIfFailed();
        }
        finally
        {
            EndWrite(storeKey);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        ThrowIfDisposed();
        var storeKey = new StoreKey(namespaceName, key);
        BeginWrite(storeKey);
        try
        {
            return await _inner.DeleteAsync(namespaceName, key, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWrite(storeKey);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.GetManyAsync(namespaceName, keys, cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ThrowIfDisposed();
        var list = MemoryStoreArguments.Entries(entries);
        BeginWriteMany(namespaceName, list.Select(e => e.Key));
        try
        {
            await _inner.SetManyAsync(namespaceName, list, timeToLive, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWriteMany(namespaceName, list.Select(e => e.Key));
        }
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ThrowIfDisposed();
        var list = MemoryStoreArguments.Keys(keys);
        BeginWriteMany(namespaceName, list);
        try
        {
            return await _inner.DeleteManyAsync(namespaceName, list, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWriteMany(namespaceName, list);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return _inner.ListKeysAsync(namespaceName, prefix, cancellationToken);
    }

    /// <summary>Gets a snapshot of the store's counters.</summary>
    /// <returns>The counters since the store was created.</returns>
    public BatchingMemoryStoreStatistics GetStatistics()
    {
        var reads = _reads.GetStatistics();
        var writes = _writes.GetStatistics();
        return new BatchingMemoryStoreStatistics(reads.Ledger.Submitted, reads.Coalesced, reads.Batches, Interlocked.Read(ref _cacheHits), writes.Ledger.Submitted, writes.Batches);
    }

    /// <summary>
    /// Stops taking calls, flushes and drains the pending reads and writes (every accepted write reaches the inner
    /// store), then returns. Idempotent; later calls throw <see cref="ObjectDisposedException"/>. The inner store is not disposed.
    /// </summary>
    /// <returns>A task that completes when both batchers have drained.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _writes.DisposeAsync().ConfigureAwait(false);
        await _reads.DisposeAsync().ConfigureAwait(false);
    }

    private BatchProcessorOptions<TItem> ProcessorOptions<TItem>(bool coalesce, string kind) => new()
    {
        MaxBatchSize = _options.MaxBatchSize,
        MaxDelay = _options.MaxDelay,
        MaxDegreeOfParallelism = _options.MaxConcurrentBatches,
        QueueCapacity = _options.QueueCapacity,
        Coalesce = coalesce,
        TimeProvider = _options.TimeProvider,
        Name = (_options.Name ?? "BatchingMemoryStore") + "." + kind,
    };

    /// <summary>One read batch: one GetManyAsync per namespace; a failing namespace fails the whole batch's reads.</summary>
    private async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>?>> ReadBatchAsync(IReadOnlyList<StoreKey> keys, CancellationToken cancellationToken)
    {
        var results = new ReadOnlyMemory<byte>?[keys.Count];
        foreach (var group in GroupIndexes(keys, static k => k.Namespace))
        {
            var found = await _inner.GetManyAsync(group.Key, group.Value.Select(i => keys[i].Key), cancellationToken).ConfigureAwait(false);
            foreach (var index in group.Value)
            {
                results[index] = found.TryGetValue(keys[index].Key, out var value) ? (ReadOnlyMemory<byte>?)value : null;
            }
        }

        return results;
    }

    /// <summary>
    /// One write batch: one SetManyAsync per namespace and time to live, each all-or-nothing in the inner store; a
    /// failing group fails only its own callers.
    /// </summary>
    private async ValueTask<IReadOnlyList<WriteOutcome>> WriteBatchAsync(IReadOnlyList<PendingWrite> writes, CancellationToken cancellationToken)
    {
        var results = new WriteOutcome[writes.Count];
        foreach (var group in GroupIndexes(writes, static w => (w.Key.Namespace, w.TimeToLive)))
        {
            try
            {
                var entries = group.Value.Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>(writes[i].Key.Key, writes[i].Value)).ToList();
                await _inner.SetManyAsync(group.Key.Namespace, entries, group.Key.TimeToLive, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                var failure = new WriteOutcome(ExceptionDispatchInfo.Capture(ex));
                foreach (var index in group.Value)
                {
                    results[index] = failure;
                }
            }
        }

        return results;
    }

    /// <summary>Groups item indexes by a key, keeping first-seen group order and input order within a group.</summary>
    private static List<KeyValuePair<TGroup, List<int>>> GroupIndexes<TItem, TGroup>(IReadOnlyList<TItem> items, Func<TItem, TGroup> groupOf)
        where TGroup : notnull
    {
        var groups = new List<KeyValuePair<TGroup, List<int>>>(1);
        for (var i = 0; i < items.Count; i++)
        {
            var group = groupOf(items[i]);
            var found = false;
            foreach (var existing in groups)
            {
                if (EqualityComparer<TGroup>.Default.Equals(existing.Key, group))
                {
                    existing.Value.Add(i);
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                groups.Add(new(group, [i]));
            }
        }

        return groups;
    }

    private void BeginWrite(StoreKey key)
    {
        Interlocked.Increment(ref _writeGeneration);
        RemoveCached(key);
    }

    private void EndWrite(StoreKey key)
    {
        // Removed again at the end: a read that finished between begin and end may have cached nothing (the
        // generation moved), but removing twice keeps the rule simple: after a write's await, the cache holds no
        // value of that key older than the write.
        RemoveCached(key);
        Interlocked.Increment(ref _writeGeneration);
    }

    private void BeginWriteMany(string namespaceName, IEnumerable<string> keys)
    {
        Interlocked.Increment(ref _writeGeneration);
        if (_cache is not null)
        {
            foreach (var key in keys)
            {
                RemoveCached(new StoreKey(namespaceName, key));
            }
        }
    }

    private void EndWriteMany(string namespaceName, IEnumerable<string> keys)
    {
        if (_cache is not null)
        {
            foreach (var key in keys)
            {
                RemoveCached(new StoreKey(namespaceName, key));
            }
        }

        Interlocked.Increment(ref _writeGeneration);
    }

    private void AddCached(StoreKey key, ReadOnlyMemory<byte>? value)
    {
        var now = _options.TimeProvider.GetTimestamp();
        if (Volatile.Read(ref _cacheCount) >= _options.ReadCacheCapacity)
        {
            // Full: make room from expired entries (an O(n) sweep, paid at most once per capacity's worth of adds);
            // if none expired, this read is simply not cached, so the cache never grows past its capacity.
            foreach (var pair in _cache!)
            {
                if (pair.Value.ExpiresAt <= now)
                {
                    RemoveCached(pair);
                }
            }

            if (Volatile.Read(ref _cacheCount) >= _options.ReadCacheCapacity)
            {
                return;
            }
        }

        var entry = new CachedValue(value, now + ToTimestampTicks(_options.ReadCacheTimeToLive!.Value));
        if (_cache!.TryAdd(key, entry))
        {
            Interlocked.Increment(ref _cacheCount);
        }
        else
        {
            _cache[key] = entry;
        }
    }

    private void RemoveCached(KeyValuePair<StoreKey, CachedValue> pair)
    {
        if (_cache!.TryRemove(pair))
        {
            Interlocked.Decrement(ref _cacheCount);
        }
    }

    private void RemoveCached(StoreKey key)
    {
        if (_cache is not null && _cache.TryRemove(key, out _))
        {
            Interlocked.Decrement(ref _cacheCount);
        }
    }

    private long ToTimestampTicks(TimeSpan duration) =>
        (long)(duration.TotalSeconds * _options.TimeProvider.TimestampFrequency);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    /// <summary>A key in a namespace; the unit of coalescing and caching.</summary>
    private readonly record struct StoreKey(string Namespace, string Key);

    /// <summary>One waiting single write. The value is the caller's memory, valid until the caller's await returns.</summary>
    private readonly record struct PendingWrite(StoreKey Key, ReadOnlyMemory<byte> Value, TimeSpan? TimeToLive);

    /// <summary>The per-caller outcome of a write batch: success, or its group's failure.</summary>
    private readonly record struct WriteOutcome(ExceptionDispatchInfo? Failure)
    {
        public void ThrowIfFailed() => Failure?.Throw();
    }

    /// <summary>A cached read (including "absent"), valid until the timestamp.</summary>
    private sealed record CachedValue(ReadOnlyMemory<byte>? Value, long ExpiresAt);
}
