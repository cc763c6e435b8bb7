using System.Collections.Concurrent;
using System.Diagnostics;

namespace ParallelExec.Memory;

/// <summary>
/// The embedded <see cref="IMemoryStore"/>: a thread-safe in-process dictionary per namespace. Nothing is persisted.
/// </summary>
/// <remarks>
/// Every operation completes synchronously and lock-free (concurrent dictionaries; an entry is an immutable object that
/// a write replaces whole, so a reader sees the old or the new value, never a mix). Expired entries are invisible at
/// once and removed when next touched by a read, write, delete or listing; <see cref="RemoveExpired"/> sweeps them all.
/// A bulk write checks every key before it applies any entry, and a concurrent reader may see it midway.
/// </remarks>
[DebuggerDisplay("InMemoryStore, {Count} entries")]
public sealed class InMemoryStore : IMemoryStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, Entry>> _namespaces = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;

    /// <summary>Initializes a new instance of the <see cref="InMemoryStore"/> class.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    public InMemoryStore(InMemoryStoreOptions? options = null)
    {
        _timeProvider = options is null ? TimeProvider.System : options.TimeProvider;
        new OptionsValidator(nameof(InMemoryStoreOptions))
            .RequireNotNull(_timeProvider, nameof(InMemoryStoreOptions.TimeProvider))
            .ThrowIfInvalid();
    }

    /// <summary>Gets the number of entries held, including expired ones not yet removed.</summary>
    public int Count => _namespaces.Values.Sum(entries => entries.Count);

    /// <inheritdoc/>
    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<ReadOnlyMemory<byte>?>(cancellationToken);
        }

        // The cast matters: "? value : null" would turn null into an empty ReadOnlyMemory through its array conversion.
        return new(TryGetLive(namespaceName, key, Now(), out var value) ? (ReadOnlyMemory<byte>?)value : null);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>>(cancellationToken);
        }

        var now = Now();
        var found = new Dictionary<string, ReadOnlyMemory<byte>>(list.Count, StringComparer.Ordinal);
        foreach (var key in list)
        {
            if (TryGetLive(namespaceName, key, now, out var value))
            {
                found[key] = value;
            }
        }

        return new(found);
    }

    /// <inheritdoc/>
    public ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        Entries(namespaceName)[key] = new Entry(value.ToArray(), ExpiresAt(timeToLive));
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var list = MemoryStoreArguments.Entries(entries);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        // Past this point nothing can fail (copies and dictionary writes), so the bulk write is all or nothing.
        var expiresAt = ExpiresAt(timeToLive);
        var target = Entries(namespaceName);
        foreach (var entry in list)
        {
            target[entry.Key] = new Entry(entry.Value.ToArray(), expiresAt);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        return new(DeleteLive(namespaceName, key, Now()));
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<int>(cancellationToken);
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

        return new(deleted);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentNullException.ThrowIfNull(prefix);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<IReadOnlyList<string>>(cancellationToken);
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

                if (pair.Value.IsExpired(now))
                {
                    entries.TryRemove(pair);
                }
                else
                {
                    keys.Add(pair.Key);
                }
            }
        }

        keys.Sort(StringComparer.Ordinal);
        return new(keys);
    }

    /// <summary>Removes every expired entry now, instead of when it is next touched.</summary>
    /// <returns>The number of entries removed.</returns>
    public int RemoveExpired()
    {
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

        return removed;
    }

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

            entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        }

        value = default;
        return false;
    }

    private bool DeleteLive(string namespaceName, string key, long now) =>
        _namespaces.TryGetValue(namespaceName, out var entries) && entries.TryRemove(key, out var entry) && !entry.IsExpired(now);

    /// <summary>An immutable stored value; replaced whole on every write.</summary>
    private sealed class Entry(byte[] value, long expiresAtUtcTicks)
    {
        public byte[] Value { get; } = value;

        public bool IsExpired(long nowUtcTicks) => nowUtcTicks >= expiresAtUtcTicks;
    }
}
