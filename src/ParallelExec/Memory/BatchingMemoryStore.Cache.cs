namespace ParallelExec.Memory;

/// <summary>
/// The read cache: lock-free (a concurrent dictionary and a write generation), bounded by its capacity, and never
/// holding a value older than a write made through this store once that write's await has returned.
/// </summary>
public sealed partial class BatchingMemoryStore
{
    private bool TryGetCached(StoreKey key, out ReadOnlyMemory<byte>? value)
    {
        if (_cache is not null && _cache.TryGetValue(key, out var cached))
        {
            if (cached.ExpiresAt > _options.TimeProvider.GetTimestamp())
            {
                value = cached.Value;
                return true;
            }

            RemoveCached(new KeyValuePair<StoreKey, CachedValue>(key, cached));
        }

        value = null;
        return false;
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

    private void BeginWriteMany(string namespaceName, List<string> keys)
    {
        Interlocked.Increment(ref _writeGeneration);
        RemoveCachedMany(namespaceName, keys);
    }

    private void EndWriteMany(string namespaceName, List<string> keys)
    {
        RemoveCachedMany(namespaceName, keys);
        Interlocked.Increment(ref _writeGeneration);
    }

    private void RemoveCachedMany(string namespaceName, List<string> keys)
    {
        if (_cache is not null)
        {
            foreach (var key in keys)
            {
                RemoveCached(new StoreKey(namespaceName, key));
            }
        }
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

    /// <summary>A cached read (including "absent"), valid until the timestamp.</summary>
    private sealed record CachedValue(ReadOnlyMemory<byte>? Value, long ExpiresAt);
}
