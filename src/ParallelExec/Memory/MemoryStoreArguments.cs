namespace ParallelExec.Memory;

/// <summary>The argument checks every <see cref="IMemoryStore"/> in this assembly shares, so their errors read alike.</summary>
internal static class MemoryStoreArguments
{
    public static void Check(string namespaceName, string key)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentException.ThrowIfNullOrEmpty(key);
    }

    public static void CheckTimeToLive(TimeSpan? timeToLive)
    {
        if (timeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeToLive), ttl, "The time to live must be greater than zero, or null for no expiry.");
        }
    }

    /// <summary>Copies and checks the keys before anything is done, so a bad key fails the whole call up front.</summary>
    public static List<string> Keys(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = keys is ICollection<string> collection ? new List<string>(collection.Count) : [];
        foreach (var key in keys)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new ArgumentException($"Every key must be a non-empty string; found {(key is null ? "null" : "an empty string")} at index {list.Count}.", nameof(keys));
            }

            list.Add(key);
        }

        return list;
    }

    /// <summary>Copies and checks the entries before anything is written, so a bad key leaves nothing partial.</summary>
    public static List<KeyValuePair<string, ReadOnlyMemory<byte>>> Entries(IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = entries is ICollection<KeyValuePair<string, ReadOnlyMemory<byte>>> collection ? new List<KeyValuePair<string, ReadOnlyMemory<byte>>>(collection.Count) : [];
        foreach (var entry in entries)
        {
            if (string.IsNullOrEmpty(entry.Key))
            {
                throw new ArgumentException($"Every key must be a non-empty string; found {(entry.Key is null ? "null" : "an empty string")} at index {list.Count}.", nameof(entries));
            }

            list.Add(entry);
        }

        return list;
    }
}
