using System.Collections.Concurrent;
using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Memory;

// Locking: none. The entries live in concurrent dictionaries; the ledger and the lookup counters are updated with
// Interlocked; no user code runs inside the store (it calls none). Every operation completes before it returns, so the
// ledger never has anything queued or in flight, and the store holds no work to drain: it is IAsyncDisposable, not an
// IExecComponent.

/// <summary>
/// The embedded <see cref="IMemoryStore"/>: a thread-safe in-process dictionary per namespace. Nothing is persisted.
/// </summary>
/// <remarks>
/// <para>Every operation completes synchronously and lock-free (concurrent dictionaries; an entry is an immutable object
/// that a write replaces whole, so a reader sees the old or the new value, never a mix). Expired entries are invisible at
/// once and removed when next touched by a read, write, delete or listing; <see cref="RemoveExpired"/> sweeps them all.
/// A bulk write checks every key before it applies any entry, and a concurrent reader may see it midway.</para>
/// <para>Telemetry: the <c>parallelexec.memory.*</c> instruments, tagged with the store's name and the operation, and a
/// span per bulk call; <see cref="GetStatistics"/> counts every key operated on. Disposing the store drops its entries;
/// later calls throw <see cref="ObjectDisposedException"/>.</para>
/// </remarks>
[DebuggerDisplay("InMemoryStore {Name}, {Count} entries")]
public sealed class InMemoryStore : IMemoryStore, IAsyncDisposable, IInstrumentedComponent
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Entry>> _namespaces = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly MemoryStoreTelemetry _telemetry;
    private readonly ItemLedger _ledger = new();
    private int _disposed;

    /// <summary>Initializes a new instance of the <see cref="InMemoryStore"/> class.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults. Validated; the store keeps what it needs.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every one.</exception>
    public InMemoryStore(InMemoryStoreOptions? options = null)
    {
        options ??= new InMemoryStoreOptions();
        options.Validate();
        Name = options.Name;
        _timeProvider = options.TimeProvider;
        _telemetry = new MemoryStoreTelemetry(options);
        _telemetry.Instruments.Live.Add(this);
    }

    /// <summary>Gets the store's name (<see cref="ComponentOptions.Name"/>), the tag of its metrics and spans.</summary>
    public string Name { get; }

    /// <summary>Gets the number of entries held, including expired ones not yet removed.</summary>
    public int Count => _namespaces.Values.Sum(entries => entries.Count);

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _telemetry.NameTag;

    /// <inheritdoc/>
    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        ThrowIfDisposed();
        var started = _telemetry.Begin(MemoryOperation.Get, 1);
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled<ReadOnlyMemory<byte>?>(MemoryOperation.Get, 1, started, cancellationToken);
        }

        var found = TryGetLive(namespaceName, key, Now(), out var value);
        _telemetry.Lookups(found ? 1 : 0, found ? 0 : 1);
        Succeeded(MemoryOperation.Get, 1, started);

        // The cast matters: "? value : null" would turn null into an empty ReadOnlyMemory through its array conversion.
        return new(found ? (ReadOnlyMemory<byte>?)value : null);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        ThrowIfDisposed();
        using var span = BeginBulk(MemoryOperation.Get, list.Count, out var started);
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>>(MemoryOperation.Get, list.Count, started, cancellationToken);
        }

        var now = Now();
        var found = new Dictionary<string, ReadOnlyMemory<byte>>(list.Count, StringComparer.Ordinal);
        var hits = 0;
        foreach (var key in list)
        {
            if (TryGetLive(namespaceName, key, now, out var value))
            {
                found[key] = value;
                hits++;
            }
        }

        _telemetry.Lookups(hits, list.Count - hits);
        Succeeded(MemoryOperation.Get, list.Count, started);
        return new(found);
    }

    /// <inheritdoc/>
    public ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        ThrowIfDisposed();
        var started = _telemetry.Begin(MemoryOperation.Set, 1);
        if (cancellationToken.IsCancellationRequested)
        {
            CountEnd(MemoryOperation.Set, 1, ItemOutcome.Cancelled, started);
            return ValueTask.FromCanceled(cancellationToken);
        }

        Entries(namespaceName)[key] = new Entry(value.ToArray(), ExpiresAt(timeToLive));
        Succeeded(MemoryOperation.Set, 1, started);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var list = MemoryStoreArguments.Entries(entries);
        ThrowIfDisposed();
        using var span = BeginBulk(MemoryOperation.Set, list.Count, out var started);
        if (cancellationToken.IsCancellationRequested)
        {
            CountEnd(MemoryOperation.Set, list.Count, ItemOutcome.Cancelled, started);
            return ValueTask.FromCanceled(cancellationToken);
        }

        // Past this point nothing can fail (copies and dictionary writes), so the bulk write is all or nothing.
        var expiresAt = ExpiresAt(timeToLive);
        var target = Entries(namespaceName);
        foreach (var entry in list)
        {
            target[entry.Key] = new Entry(entry.Value.ToArray(), expiresAt);
        }

        Succeeded(MemoryOperation.Set, list.Count, started);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        ThrowIfDisposed();
        var started = _telemetry.Begin(MemoryOperation.Remove, 1);
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled<bool>(MemoryOperation.Remove, 1, started, cancellationToken);
        }

        var deleted = DeleteLive(namespaceName, key, Now());
        Succeeded(MemoryOperation.Remove, 1, started);
        return new(deleted);
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        ThrowIfDisposed();
        using var span = BeginBulk(MemoryOperation.Remove, list.Count, out var started);
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled<int>(MemoryOperation.Remove, list.Count, started, cancellationToken);
        }

        var now = Now();
        var deleted = 0;
        foreach (var key in list)
        {
            if (DeleteLive(namespaceName, key, now))
            {
                deleted++;
            }
        }

        Succeeded(MemoryOperation.Remove, list.Count, started);
        return new(deleted);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentNullException.ThrowIfNull(prefix);
        ThrowIfDisposed();
        using var span = _telemetry.StartBulkSpan(MemoryOperation.List, 0);
        var started = _telemetry.Begin(MemoryOperation.List, 0);
        if (cancellationToken.IsCancellationRequested)
        {
            return Cancelled<IReadOnlyList<string>>(MemoryOperation.List, 0, started, cancellationToken);
        }

        var keys = new List<string>();
        if (_namespaces.TryGetValue(namespaceName, out var entries))
        {
            var now = Now();
            foreach (var pair in entries)
            {
                if (!pair.Key.StartsWith(prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                if (!pair.Value.IsExpired(now))
                {
                    keys.Add(pair.Key);
                }
                else if (entries.TryRemove(pair))
                {
                    _telemetry.Expired(1);
                }
            }
        }

        keys.Sort(StringComparer.Ordinal);
        _telemetry.End(MemoryOperation.List, 0, ItemOutcome.Succeeded, started);
        return new(keys);
    }

    /// <summary>Removes every expired entry now, instead of when it is next touched.</summary>
    /// <returns>The number of entries removed.</returns>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    public int RemoveExpired()
    {
        ThrowIfDisposed();
        var now = Now();
        var removed = 0;
        foreach (var entries in _namespaces.Values)
        {
            foreach (var pair in entries)
            {
                // TryRemove(pair) removes only this exact entry, never a newer value written meanwhile.
                if (pair.Value.IsExpired(now) && entries.TryRemove(pair))
                {
                    removed++;
                }
            }
        }

        _telemetry.Expired(removed);
        return removed;
    }

    /// <summary>Gets a snapshot of the store's counters: one ledger item per key read, written or deleted.</summary>
    /// <returns>The counters since the store was created; <see cref="MemoryStoreStatistics.Entries"/> is <see cref="Count"/>.</returns>
    public MemoryStoreStatistics GetStatistics() => _telemetry.Statistics(_ledger.Snapshot(), Count);

    /// <summary>Drops every entry and stops the store: later calls throw <see cref="ObjectDisposedException"/>. Idempotent.</summary>
    /// <returns>A completed task: the store holds no work to wait for.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _telemetry.Instruments.Live.Remove(this);
            _namespaces.Clear();
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger() => _ledger.Snapshot();

    /// <summary>
    /// Checks what holds with a lock-free ledger: nothing is ever queued or in flight and no counter is negative (the
    /// sum may lag by the operations ending at this instant, so it is checked by the tests at quiet moments).
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        var ledger = _ledger.Snapshot();
        Debug.Assert(ledger.Queued == 0 && ledger.InFlight == 0, $"An in-memory store has nothing queued or in flight: {ledger}.");
        Debug.Assert(ledger.Succeeded >= 0 && ledger.Cancelled >= 0 && ledger.Submitted >= 0, $"Negative counter: {ledger}.");
    }

    private Activity? BeginBulk(MemoryOperation operation, int keys, out long started)
    {
        var span = _telemetry.StartBulkSpan(operation, keys);
        started = _telemetry.Begin(operation, keys);
        return span;
    }

    private void Succeeded(MemoryOperation operation, int keys, long started) => CountEnd(operation, keys, ItemOutcome.Succeeded, started);

    private ValueTask<T> Cancelled<T>(MemoryOperation operation, int keys, long started, CancellationToken cancellationToken)
    {
        CountEnd(operation, keys, ItemOutcome.Cancelled, started);
        return ValueTask.FromCanceled<T>(cancellationToken);
    }

    /// <summary>Counts an operation's keys once it has ended: it never waits, so it is submitted and ended at once.</summary>
    private void CountEnd(MemoryOperation operation, int keys, ItemOutcome outcome, long started)
    {
        Interlocked.Add(ref _ledger.Submitted, keys);
        if (outcome == ItemOutcome.Succeeded)
        {
            Interlocked.Add(ref _ledger.Succeeded, keys);
        }
        else
        {
            Interlocked.Add(ref _ledger.Cancelled, keys);
        }

        AssertInvariants();
        _telemetry.End(operation, keys, outcome, started);
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

    private long Now() => _timeProvider.GetUtcNow().UtcTicks;

    private long ExpiresAt(TimeSpan? timeToLive)
    {
        if (timeToLive is not { } ttl)
        {
            return long.MaxValue;
        }

        var now = Now();
        return ttl.Ticks >= long.MaxValue - now ? long.MaxValue : now + ttl.Ticks;
    }

    private ConcurrentDictionary<string, Entry> Entries(string namespaceName) =>
        _namespaces.GetOrAdd(namespaceName, static _ => new ConcurrentDictionary<string, Entry>(StringComparer.Ordinal));

    private bool TryGetLive(string namespaceName, string key, long now, out ReadOnlyMemory<byte> value)
    {
        if (_namespaces.TryGetValue(namespaceName, out var entries) && entries.TryGetValue(key, out var entry))
        {
            if (!entry.IsExpired(now))
            {
                value = entry.Value;
                return true;
            }

            if (entries.TryRemove(new KeyValuePair<string, Entry>(key, entry)))
            {
                _telemetry.Expired(1);
            }
        }

        value = default;
        return false;
    }

    private bool DeleteLive(string namespaceName, string key, long now)
    {
        if (!_namespaces.TryGetValue(namespaceName, out var entries) || !entries.TryRemove(key, out var entry))
        {
            return false;
        }

        if (entry.IsExpired(now))
        {
            _telemetry.Expired(1);
            return false;
        }

        return true;
    }

    /// <summary>An immutable stored value; replaced whole on every write.</summary>
    private sealed class Entry(byte[] value, long expiresAtUtcTicks)
    {
        public byte[] Value { get; } = value;

        public bool IsExpired(long nowUtcTicks) => nowUtcTicks >= expiresAtUtcTicks;
    }
}
