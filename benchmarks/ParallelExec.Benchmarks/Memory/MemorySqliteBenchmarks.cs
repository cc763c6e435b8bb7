using BenchmarkDotNet.Attributes;
using ParallelExec.Memory;
using ParallelExec.Sqlite;

namespace ParallelExec.Benchmarks.Memory;

/// <summary>
/// 10,000 sets then 10,000 gets of 100-byte values on a SQLite file (WAL): one call at a time (the baseline), 64
/// concurrent callers straight on the store (WhenAll), 64 concurrent callers through BatchingMemoryStore (ParallelExec),
/// and the same work as two direct bulk calls (the floor coalescing aims for).
/// </summary>
[MemoryDiagnoser]
public class MemorySqliteBenchmarks
{
    private const int Operations = 10_000;
    private const int Callers = 64;
    private const string Namespace = "bench";

    private string _directory = null!;
    private SqliteMemoryStore _sqlite = null!;
    private BatchingMemoryStore _batching = null!;
    private string[] _keys = null!;
    private byte[] _value = null!;
    private KeyValuePair<string, ReadOnlyMemory<byte>>[] _entries = null!;

    [GlobalSetup]
    public async Task Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "parallelexec-bench-sqlite-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _sqlite = new SqliteMemoryStore(Path.Combine(_directory, "memory.db"));
        _batching = new BatchingMemoryStore(_sqlite);
        _keys = Enumerable.Range(0, Operations).Select(i => $"agent-{i % 97}/note-{i:D5}").ToArray();
        _value = new byte[100];
        new Random(3).NextBytes(_value);
        _entries = _keys.Select(k => new KeyValuePair<string, ReadOnlyMemory<byte>>(k, _value)).ToArray();
        await _sqlite.SetManyAsync(Namespace, _entries); // schema and rows exist: every set below is an upsert
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _batching.DisposeAsync();
        await _sqlite.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 2 * Operations)]
    public async Task<int> Sequential()
    {
        foreach (var key in _keys)
        {
            await _sqlite.SetAsync(Namespace, key, _value);
        }

        var found = 0;
        foreach (var key in _keys)
        {
            found += (await _sqlite.GetAsync(Namespace, key)).HasValue ? 1 : 0;
        }

        return found;
    }

    [Benchmark(OperationsPerInvoke = 2 * Operations)]
    public Task<int> WhenAll() => RunCallers(_sqlite);

    [Benchmark(OperationsPerInvoke = 2 * Operations)]
    public Task<int> ParallelExec() => RunCallers(_batching);

    [Benchmark(OperationsPerInvoke = 2 * Operations)]
    public async Task<int> DirectBulk()
    {
        await _sqlite.SetManyAsync(Namespace, _entries);
        return (await _sqlite.GetManyAsync(Namespace, _keys)).Count;
    }

    /// <summary>64 callers, each setting then getting its share of the keys one awaited call at a time.</summary>
    private async Task<int> RunCallers(IMemoryStore store)
    {
        var callers = new Task<int>[Callers];
        for (var c = 0; c < Callers; c++)
        {
            var caller = c;
            callers[c] = Task.Run(async () =>
            {
                for (var i = caller; i < _keys.Length; i += Callers)
                {
                    await store.SetAsync(Namespace, _keys[i], _value);
                }

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
