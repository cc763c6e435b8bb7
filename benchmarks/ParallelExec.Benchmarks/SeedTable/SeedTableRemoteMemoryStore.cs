using ParallelExec.Memory;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>A memory store across a network: every call, single or bulk, first waits a fixed latency.</summary>
internal sealed class SeedTableRemoteMemoryStore(IMemoryStore inner, int latencyMs) : IMemoryStore
{
    public async ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        return await inner.GetAsync(namespaceName, key, cancellationToken);
    }

    public async ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        return await inner.GetManyAsync(namespaceName, keys, cancellationToken);
    }

    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        await inner.SetAsync(namespaceName, key, value, timeToLive, cancellationToken);
    }

    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        await inner.SetManyAsync(namespaceName, entries, timeToLive, cancellationToken);
    }

    public async ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        return await inner.DeleteAsync(namespaceName, key, cancellationToken);
    }

    public async ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        return await inner.DeleteManyAsync(namespaceName, keys, cancellationToken);
    }

    public async ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        await RoundTripAsync(cancellationToken);
        return await inner.ListKeysAsync(namespaceName, prefix, cancellationToken);
    }

    private Task RoundTripAsync(CancellationToken cancellationToken) =>
        latencyMs > 0 ? Task.Delay(latencyMs, cancellationToken) : Task.CompletedTask;
}
