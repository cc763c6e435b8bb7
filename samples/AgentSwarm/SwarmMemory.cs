using ParallelExec.Memory;
using ParallelExec.Redis;
using ParallelExec.Sqlite;

namespace AgentSwarm;

/// <summary>Opens the memory store the run uses: the embedded SQLite file by default, a Redis server with <c>--store redis://host:port</c>.</summary>
internal static class SwarmMemory
{
    /// <summary>Opens the store; the caller disposes it.</summary>
    public static IAsyncMemoryStore Open(SwarmOptions options, string databasePath) =>
        options.RedisServer is { } server
            // Each opened store gets keys of its own, so runs sharing a server never see each other's notes.
            ? new Adapter(new RedisMemoryStore(new RedisMemoryStoreOptions { Configuration = server, KeyPrefix = $"agentswarm:{Guid.NewGuid():N}:" }))
            : new Adapter(new SqliteMemoryStore(databasePath));

    /// <summary>An <see cref="IMemoryStore"/> the workflow disposes with <c>await using</c>.</summary>
    public interface IAsyncMemoryStore : IMemoryStore, IAsyncDisposable;

    private sealed class Adapter(IMemoryStore inner) : IAsyncMemoryStore
    {
        public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default) => inner.GetAsync(namespaceName, key, cancellationToken);

        public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.GetManyAsync(namespaceName, keys, cancellationToken);

        public ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) => inner.SetAsync(namespaceName, key, value, timeToLive, cancellationToken);

        public ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default) => inner.SetManyAsync(namespaceName, entries, timeToLive, cancellationToken);

        public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(namespaceName, key, cancellationToken);

        public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default) => inner.DeleteManyAsync(namespaceName, keys, cancellationToken);

        public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default) => inner.ListKeysAsync(namespaceName, prefix, cancellationToken);

        public ValueTask DisposeAsync() => ((IAsyncDisposable)inner).DisposeAsync();
    }
}
