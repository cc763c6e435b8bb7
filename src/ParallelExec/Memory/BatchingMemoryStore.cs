using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using ParallelExec.Batching;
using ParallelExec.Internal;

namespace ParallelExec.Memory;

// Locking: _gate guards _lifecycle, _ledger and _openCalls, held only for that bookkeeping (BatchingMemoryStore.Lifecycle.cs).
// No user code runs under it: the inner store, the batch processors and the OnDropped callback are called after it is
// released. The read cache and the write generation are lock-free (concurrent dictionary, Interlocked); the two batch
// processors have their own lock, never taken while _gate is held.

/// <summary>
/// An <see cref="IMemoryStore"/> decorator that turns concurrent single calls into bulk calls on the inner store:
/// concurrent <see cref="GetAsync"/> calls become one <see cref="IMemoryStore.GetManyAsync"/> per namespace (callers
/// asking for the same key share one read), concurrent <see cref="SetAsync"/> calls become one
/// <see cref="IMemoryStore.SetManyAsync"/> per namespace and time to live; an optional read cache answers repeated reads.
/// </summary>
/// <remarks>
/// <para>
/// Built on <see cref="BatchProcessor{TItem, TResult}"/>. With <see cref="BatchingMemoryStoreOptions.EagerFlush"/> (the
/// default), a call that finds no batch of its kind running goes at once
/// (alone, or with the calls that joined it meanwhile); calls that arrive while a batch runs gather into the next one,
/// which goes when the running one ends, when it holds <see cref="BatchingMemoryStoreOptions.MaxBatchSize"/> calls, or
/// when its first call has waited <see cref="BatchingMemoryStoreOptions.MaxDelay"/>, whichever comes first. So a lone
/// caller waits for nobody, and batches grow with the load. A write's task completes only after the inner store's bulk call
/// that carried it has returned, so a write is visible to every read issued after its await returns; it fails with the
/// inner store's exception if its group failed. Reads are shared only with reads still waiting for their batch, never
/// with a read already running, so a read issued after a write's await never sees an older value.
/// </para>
/// <para>
/// Cancellation: a call cancelled while it waits for its batch leaves the batch and is not applied; once its batch runs
/// it completes regardless. Deletes, bulk calls and listings go straight to the inner store.
/// </para>
/// <para>
/// Lifecycle (<see cref="IExecComponent"/>): <see cref="Complete"/> stops intake and sends the open batches at once, and
/// <see cref="Completion"/> ends once every accepted call has ended (every buffered write is in the inner store); <see cref="DisposeAsync"/> also flushes the open batches at once, waits up to
/// <see cref="ComponentOptions.DrainTimeout"/>, then cuts what is left: its callers get an
/// <see cref="ItemDroppedException"/> (<see cref="DropReason.DrainTimeout"/>) and each key is reported to
/// <see cref="BatchingMemoryStoreOptions.OnDropped"/>. The inner store is never disposed by this store.
/// </para>
/// </remarks>
public sealed partial class BatchingMemoryStore : IMemoryStore, IExecComponent, IInstrumentedComponent
{
    private readonly IMemoryStore _inner;
    private readonly BatchingMemoryStoreOptions _options;
    private readonly MemoryStoreTelemetry _telemetry;
    private readonly BatchProcessor<StoreKey, ReadOnlyMemory<byte>?> _reads;
    private readonly BatchProcessor<PendingWrite, WriteOutcome> _writes;
    private readonly BatchFlow? _readFlow;
    private readonly BatchFlow? _writeFlow;
    private readonly ConcurrentDictionary<StoreKey, CachedValue>? _cache;
    private long _writeGeneration;
    private long _cacheHits;
    private int _cacheCount;
    private long _batchedReads;
    private long _batchedWrites;
    private long _readBatches;
    private long _writeBatches;

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
        Name = _options.Name;
        _telemetry = new MemoryStoreTelemetry(_options, _options.OnDropped);
        _cache = _options.ReadCacheTimeToLive is null ? null : new ConcurrentDictionary<StoreKey, CachedValue>();
        _reads = new BatchProcessor<StoreKey, ReadOnlyMemory<byte>?>(ReadBatchAsync, ProcessorOptions<StoreKey>(coalesce: true, "reads"));
        _writes = new BatchProcessor<PendingWrite, WriteOutcome>(WriteBatchAsync, ProcessorOptions<PendingWrite>(coalesce: false, "writes"));
        if (_options.EagerFlush)
        {
            _readFlow = new BatchFlow(() => FlushBatcher(_reads));
            _writeFlow = new BatchFlow(() => FlushBatcher(_writes));
        }
        _telemetry.Instruments.Live.Add(this);
    }

    /// <summary>Gets the store's name (<see cref="ComponentOptions.Name"/>), the tag of its metrics and spans.</summary>
    public string Name { get; }

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _telemetry.NameTag;

    /// <inheritdoc/>
    /// <remarks>Its state machine comes from a pool: every call that waits for a batch would otherwise allocate one.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        var storeKey = new StoreKey(namespaceName, key);
        if (TryGetCached(storeKey, out var cached))
        {
            var hit = Enter(MemoryOperation.Get, 1, queued: false);
            Interlocked.Increment(ref _cacheHits);
            Exit(hit, ItemOutcome.Succeeded, dropped: null);
            return cached;
        }

        var call = Enter(MemoryOperation.Get, 1, queued: true);
        Interlocked.Increment(ref _batchedReads);
        try
        {
            var generation = Volatile.Read(ref _writeGeneration);
            var pending = _reads.SubmitAsync(storeKey, cancellationToken);
            _readFlow?.Submitted();
            FlushIfStopped();
            var value = await pending.ConfigureAwait(false);
            if (_cache is not null && Volatile.Read(ref _writeGeneration) == generation)
            {
                // Cached only if no write through this store started or finished while the read ran, so a read that
                // raced a write never caches the older value over the newer one.
                AddCached(storeKey, value);
            }

            _telemetry.Lookups(value.HasValue ? 1 : 0, value.HasValue ? 0 : 1);
            Exit(call, ItemOutcome.Succeeded, dropped: null);
            return value;
        }
        catch (Exception ex)
        {
            if (ExitFailed(call, ex, cancellationToken, namespaceName, [key]) is { } dropped)
            {
                throw dropped;
            }

            throw;
        }
    }

    /// <inheritdoc/>
    /// <remarks>Its state machine comes from a pool: every call that waits for a batch would otherwise allocate one.</remarks>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var call = Enter(MemoryOperation.Set, 1, queued: true);
        Interlocked.Increment(ref _batchedWrites);
        var storeKey = new StoreKey(namespaceName, key);
        BeginWrite(storeKey);
        try
        {
            // The caller's buffer is not copied: this await returns only after the inner store has taken its copy.
            var pending = _writes.SubmitAsync(new PendingWrite(storeKey, value, timeToLive), cancellationToken);
            _writeFlow?.Submitted();
            FlushIfStopped();
            var outcome = await pending.ConfigureAwait(false);
            outcome.ThrowIfFailed();
            Exit(call, ItemOutcome.Succeeded, dropped: null);
        }
        catch (Exception ex)
        {
            if (ExitFailed(call, ex, cancellationToken, namespaceName, [key]) is { } dropped)
            {
                throw dropped;
            }

            throw;
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
        var call = Enter(MemoryOperation.Remove, 1, queued: false);
        var storeKey = new StoreKey(namespaceName, key);
        BeginWrite(storeKey);
        try
        {
            return await PassThroughAsync(call, bulk: false, namespaceName, [key], key,
                static (inner, ns, key, token) => inner.DeleteAsync(ns, key, token), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWrite(storeKey);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        var call = Enter(MemoryOperation.Get, list.Count, queued: false);
        var found = await PassThroughAsync(call, bulk: true, namespaceName, list, list,
            static (inner, ns, list, token) => inner.GetManyAsync(ns, list, token), cancellationToken).ConfigureAwait(false);
        var hits = list.Count(found.ContainsKey);
        _telemetry.Lookups(hits, list.Count - hits);
        return found;
    }

    /// <inheritdoc/>
    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var list = MemoryStoreArguments.Entries(entries);
        var keys = list.ConvertAll(static e => e.Key);
        var call = Enter(MemoryOperation.Set, list.Count, queued: false);
        BeginWriteMany(namespaceName, keys);
        try
        {
            await PassThroughAsync(call, bulk: true, namespaceName, keys, (list, timeToLive), static async (inner, ns, args, token) =>
            {
                await inner.SetManyAsync(ns, args.list, args.timeToLive, token).ConfigureAwait(false);
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWriteMany(namespaceName, keys);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        var call = Enter(MemoryOperation.Remove, list.Count, queued: false);
        BeginWriteMany(namespaceName, list);
        try
        {
            return await PassThroughAsync(call, bulk: true, namespaceName, list, list,
                static (inner, ns, list, token) => inner.DeleteManyAsync(ns, list, token), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            EndWriteMany(namespaceName, list);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentNullException.ThrowIfNull(prefix);
        var call = Enter(MemoryOperation.List, 0, queued: false);
        return PassThroughAsync(call, bulk: true, namespaceName, [], prefix,
            static (inner, ns, prefix, token) => inner.ListKeysAsync(ns, prefix, token), cancellationToken);
    }

    /// <summary>Gets a snapshot of the store's counters: its ledger (one item per key read, written or deleted) and its batching.</summary>
    /// <returns>The counters since the store was created.</returns>
    public BatchingMemoryStoreStatistics GetStatistics()
    {
        LedgerSnapshot ledger;
        lock (_gate)
        {
            ledger = _ledger.Snapshot();
        }

        return new BatchingMemoryStoreStatistics(
            Name,
            ledger,
            Interlocked.Read(ref _batchedReads),
            _reads.GetStatistics().Coalesced,
            Interlocked.Read(ref _readBatches),
            Interlocked.Read(ref _cacheHits),
            Interlocked.Read(ref _batchedWrites),
            Interlocked.Read(ref _writeBatches));
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_gate)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>
    /// Runs an admitted call straight on the inner store (with a span for a bulk call), under the caller's token linked
    /// with the drain-timeout cut, and ends it in the ledger exactly once.
    /// </summary>
    private async ValueTask<TResult> PassThroughAsync<TArgs, TResult>(
        Call call, bool bulk, string namespaceName, IReadOnlyList<string> keys, TArgs args,
        Func<IMemoryStore, string, TArgs, CancellationToken, ValueTask<TResult>> run, CancellationToken cancellationToken)
    {
        try
        {
            using var span = bulk ? _telemetry.StartBulkSpan(call.Operation, call.Keys) : null;
            using var linked = LinkToCut(cancellationToken, out var token);
            var result = await run(_inner, namespaceName, args, token).ConfigureAwait(false);
            Exit(call, ItemOutcome.Succeeded, dropped: null);
            return result;
        }
        catch (Exception ex)
        {
            if (ExitFailed(call, ex, cancellationToken, namespaceName, keys) is { } dropped)
            {
                throw dropped;
            }

            throw;
        }
    }

    /// <summary>A key in a namespace; the unit of coalescing and caching.</summary>
    private readonly record struct StoreKey(string Namespace, string Key);

    /// <summary>One waiting single write. The value is the caller's memory, valid until the caller's await returns.</summary>
    private readonly record struct PendingWrite(StoreKey Key, ReadOnlyMemory<byte> Value, TimeSpan? TimeToLive);

    /// <summary>The per-caller outcome of a write batch: success, or its group's failure.</summary>
    private readonly record struct WriteOutcome(ExceptionDispatchInfo? Failure)
    {
        public void ThrowIfFailed() => Failure?.Throw();
    }
}
