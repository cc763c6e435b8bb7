using BenchmarkDotNet.Attributes;
using ParallelExec.Memory;
using ParallelExec.Sqlite;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// Seed table, row "memory access" (analysis: 100 ms per operation, 20 ms batched): 16 agents each store a note and
/// read one back, 32 operations on a SQLite memory store in a database file. The sequential way makes one call per
/// operation; ParallelExec issues them concurrently through a <see cref="BatchingMemoryStore"/>, which coalesces them
/// into bulk calls. <see cref="MemoryLatencyMs"/> 0 is SQLite alone; 100 adds the analysis's latency to every call that
/// reaches the store, single or bulk, as a memory service across a network would.
/// </summary>
[MemoryDiagnoser]
public class SeedTableMemoryBenchmarks
{
    private const int Notes = 16;
    private const string Namespace = "seed-table";
    private readonly string[] _keys = [.. Enumerable.Range(0, Notes).Select(static i => $"note-{i:D2}")];
    private readonly ReadOnlyMemory<byte>[] _values = new ReadOnlyMemory<byte>[Notes];
    private string _directory = null!;
    private SqliteMemoryStore _sqlite = null!;
    private AgentSwarm.RemoteMemoryStore _remote = null!;
    private BatchingMemoryStore _batching = null!;

    [Params(0, 100)]
    public int MemoryLatencyMs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("seedtable-memory-").FullName;
        _sqlite = new SqliteMemoryStore(Path.Combine(_directory, "memory.db"));
        _remote = new AgentSwarm.RemoteMemoryStore(_sqlite, TimeSpan.FromMilliseconds(MemoryLatencyMs));
        _batching = Exec.BatchingMemoryStore(_remote).Configure(o => o.MaxBatchSize = Notes).Build();
        for (var i = 0; i < Notes; i++)
        {
            _values[i] = System.Text.Encoding.UTF8.GetBytes($"module-{i:D2}.md: 42 lines, 380 words, mostly about 'agent', sha 1a2b3c{i:D2}");
        }
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _batching.DisposeAsync();
        await _sqlite.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 2 * Notes)]
    public async Task<int> Sequential()
    {
        for (var i = 0; i < Notes; i++)
        {
            await _remote.SetAsync(Namespace, _keys[i], _values[i]);
        }

        var bytes = 0;
        for (var i = 0; i < Notes; i++)
        {
            bytes += (await _remote.GetAsync(Namespace, _keys[i]))?.Length ?? 0;
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = 2 * Notes)]
    public async Task<int> ParallelExec()
    {
        var writes = new Task[Notes];
        for (var i = 0; i < Notes; i++)
        {
            writes[i] = _batching.SetAsync(Namespace, _keys[i], _values[i]).AsTask();
        }

        await Task.WhenAll(writes);
        var reads = new Task<ReadOnlyMemory<byte>?>[Notes];
        for (var i = 0; i < Notes; i++)
        {
            reads[i] = _batching.GetAsync(Namespace, _keys[i]).AsTask();
        }

        var bytes = 0;
        foreach (var value in await Task.WhenAll(reads))
        {
            bytes += value?.Length ?? 0;
        }

        return bytes;
    }
}
