using System.Collections.Concurrent;
using ParallelExec.Memory;

namespace ParallelExec.Tests.Memory;

/// <summary>A real <see cref="InMemoryStore"/> that records the bulk calls it receives and can hold them or fail them.</summary>
public sealed class RecordingMemoryStore(InMemoryStore inner) : IMemoryStore
{
    public ConcurrentQueue<string[]> GetManyCalls { get; } = new();

    public ConcurrentQueue<string[]> SetManyCalls { get; } = new();

    public int SingleCalls;

    /// <summary>When set, every bulk call awaits it (or its cancellation) first: lets a test hold a call "inside the store".</summary>
    public Task? Hold { get; set; }

    /// <summary>When set, SetManyAsync for this namespace throws.</summary>
    public string? FailNamespace { get; set; }

    public InMemoryStore Inner => inner;

    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref SingleCalls);
        return inner.GetAsync(namespaceName, key, cancellationToken);
    }

    public async ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        var list = keys.ToArray();
        GetManyCalls.Enqueue(list);
        if (Hold is { } hold)
        {
            await hold.WaitAsync(cancellationToken);
        }

        return await inner.GetManyAsync(namespaceName, list, cancellationToken);
    }

    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref SingleCalls);
        await inner.SetAsync(namespaceName, key, value, timeToLive, cancellationToken);
    }

    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        var list = entries.ToArray();
        SetManyCalls.Enqueue(list.Select(e => e.Key).ToArray());
        if (Hold is { } hold)
        {
            await hold.WaitAsync(cancellationToken);
        }

        if (namespaceName == FailNamespace)
        {
            throw new InvalidOperationException($"namespace {namespaceName} is read-only (injected)");
        }

        await inner.SetManyAsync(namespaceName, list, timeToLive, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default) =>
        inner.DeleteAsync(namespaceName, key, cancellationToken);

    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default) =>
        inner.DeleteManyAsync(namespaceName, keys, cancellationToken);

    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default) =>
        inner.ListKeysAsync(namespaceName, prefix, cancellationToken);
}
