using ParallelExec.Memory;

namespace AgentSwarm;

/// <summary>
/// A memory store as seen across a network: every call, single or bulk, waits <see cref="Latency"/> before it reaches
/// the store behind it (the analysis measured 100 ms per memory call). Counts the calls, which is what batching saves.
/// </summary>
internal sealed class RemoteMemoryStore(IMemoryStore inner, TimeSpan latency) : IMemoryStore
{
    private int _calls;

    public TimeSpan Latency => latency;

    /// <summary>Gets how many calls reached this store.</summary>
    public int Calls => Volatile.Read(ref _calls);

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

    private async ValueTask RoundTripAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        if (latency > TimeSpan.Zero)
        {
            await Task.Delay(latency, cancellationToken);
        }
    }
}
