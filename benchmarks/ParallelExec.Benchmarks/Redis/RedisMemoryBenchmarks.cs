using BenchmarkDotNet.Attributes;
using ParallelExec.Memory;
using ParallelExec.Redis;
using ParallelExec.Testing;

namespace ParallelExec.Benchmarks.Redis;

/// <summary>
/// The network-batching row: 1,000 reads of 100-byte values from a real redis-server (started by the benchmark), on
/// loopback and behind a proxy that adds a 1 ms or 5 ms round trip. One awaited call at a time (the baseline); one
/// pipelined bulk call; 64 concurrent callers straight on the store (StackExchange.Redis pipelines them on its one
/// connection); 64 concurrent callers through BatchingMemoryStore (ParallelExec), which coalesces them into MGETs.
/// </summary>
[MemoryDiagnoser]
public class RedisMemoryBenchmarks
{
    private const int Operations = 1_000;
    private const int Callers = 64;
    private const string Namespace = "bench";

    private RedisServerProcess _server = null!;
    private DelayProxy? _proxy;
    private RedisMemoryStore _store = null!;
    private BatchingMemoryStore _batching = null!;
    private string[] _keys = null!;

    /// <summary>Gets or sets the added round trip in milliseconds (0: plain loopback).</summary>
    [Params(0, 1, 5)]
    public int RoundTripMilliseconds { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _server = await RedisServerProcess.StartAsync();
        var port = _server.Port;
        if (RoundTripMilliseconds > 0)
        {
            _proxy = new DelayProxy(_server.Port, TimeSpan.FromMilliseconds(RoundTripMilliseconds));
            port = _proxy.Port;
        }

        _store = new RedisMemoryStore(new RedisMemoryStoreOptions { Configuration = $"127.0.0.1:{port}", MaxRetries = 0 });
        _batching = new BatchingMemoryStore(_store, new BatchingMemoryStoreOptions { MaxBatchSize = Callers });
        _keys = Enumerable.Range(0, Operations).Select(i => $"agent-{i % 31}/note-{i:D4}").ToArray();
        var value = new byte[100];
        new Random(3).NextBytes(value);
        await _store.SetManyAsync(Namespace, _keys.Select(k => new KeyValuePair<string, ReadOnlyMemory<byte>>(k, value)));
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _batching.DisposeAsync();
        await _store.DisposeAsync();
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }

        await _server.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public async Task<int> Sequential()
    {
        var found = 0;
        foreach (var key in _keys)
        {
            found += (await _store.GetAsync(Namespace, key)).HasValue ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = Operations)]
    public async Task<int> PipelinedBulk() => (await _store.GetManyAsync(Namespace, _keys)).Count;

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task<int> StackExchangeRedisConcurrent() => RunCallers(_store);

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task<int> ParallelExec() => RunCallers(_batching);

    /// <summary>64 callers, each reading its share of the keys one awaited call at a time.</summary>
    private async Task<int> RunCallers(IMemoryStore store)
    {
        var callers = new Task<int>[Callers];
        for (var c = 0; c < Callers; c++)
        {
            var caller = c;
            callers[c] = Task.Run(async () =>
            {
                var found = 0;
                for (var i = caller; i < _keys.Length; i += Callers)
                {
                    found += (await store.GetAsync(Namespace, _keys[i])).HasValue ? 1 : 0;
                }

                return found;
            });
        }

        return (await Task.WhenAll(callers)).Sum();
    }
}
