using BenchmarkDotNet.Attributes;
using ParallelExec.Memory;
using ParallelExec.Sqlite;

namespace ParallelExec.Benchmarks.Memory;

/// <summary>
/// The same 4,096 single-key operations on a SQLite file (WAL, 100-byte values, every key present) by 1, 8 or 64
/// concurrent callers, each awaiting one call at a time: reads, writes (upserts), or mixed (one write in four).
/// <c>Sequential</c> is one caller on <see cref="SqliteMemoryStore"/> (the baseline: concurrent callers must not be
/// slower), <c>ParallelExecSqlite</c> the callers straight on the store, <c>ParallelExecBatching</c> the callers through
/// <see cref="BatchingMemoryStore"/> with a batch size equal to the number of callers.
/// </summary>
[MemoryDiagnoser]
public class SqliteCallersBenchmarks
{
    private const int Operations = 4096;
    private const string Namespace = "bench";

    private string _directory = null!;
    private SqliteMemoryStore _sqlite = null!;
    private BatchingMemoryStore _batching = null!;
    private string[] _keys = null!;
    private byte[] _value = null!;

    /// <summary>Gets or sets how many callers share the operations.</summary>
    [Params(1, 8, 64)]
    public int Callers { get; set; }

    /// <summary>Gets or sets what the operations are.</summary>
    [Params(SqliteWorkload.Read, SqliteWorkload.Write, SqliteWorkload.Mixed)]
    public SqliteWorkload Workload { get; set; }

    [GlobalSetup]
    public async Task Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "parallelexec-bench-callers-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _sqlite = new SqliteMemoryStore(Path.Combine(_directory, "memory.db"));
        _batching = new BatchingMemoryStore(_sqlite, new BatchingMemoryStoreOptions { MaxBatchSize = Callers });
        _keys = Enumerable.Range(0, Operations).Select(i => $"agent-{i % 97}/note-{i:D5}").ToArray();
        _value = new byte[100];
        new Random(3).NextBytes(_value);
        await _sqlite.SetManyAsync(Namespace, _keys.Select(k => new KeyValuePair<string, ReadOnlyMemory<byte>>(k, _value)));
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _batching.DisposeAsync();
        await _sqlite.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations)]
    public Task<int> Sequential() => RunCaller(_sqlite, 0, 1);

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task<int> ParallelExecSqlite() => RunCallers(_sqlite);

    [Benchmark(OperationsPerInvoke = Operations)]
    public Task<int> ParallelExecBatching() => RunCallers(_batching);

    private async Task<int> RunCallers(IMemoryStore store)
    {
        if (Callers == 1)
        {
            return await RunCaller(store, 0, 1);
        }

        var callers = new Task<int>[Callers];
        for (var c = 0; c < Callers; c++)
        {
            var caller = c;
            callers[c] = Task.Run(() => RunCaller(store, caller, Callers));
        }

        return (await Task.WhenAll(callers)).Sum();
    }

    /// <summary>One caller: every <paramref name="stride"/>-th key from <paramref name="first"/>, one awaited call at a time.</summary>
    private async Task<int> RunCaller(IMemoryStore store, int first, int stride)
    {
        var found = 0;
        for (var i = first; i < _keys.Length; i += stride)
        {
            var write = Workload == SqliteWorkload.Write || (Workload == SqliteWorkload.Mixed && i % 4 == 0);
            if (write)
            {
                await store.SetAsync(Namespace, _keys[i], _value);
            }
            else
            {
                found += (await store.GetAsync(Namespace, _keys[i])).HasValue ? 1 : 0;
            }
        }

        return found;
    }
}

/// <summary>What the operations of <see cref="SqliteCallersBenchmarks"/> are.</summary>
public enum SqliteWorkload
{
    /// <summary>Every operation reads a key.</summary>
    Read,

    /// <summary>Every operation writes (upserts) a key.</summary>
    Write,

    /// <summary>One operation in four writes, the others read.</summary>
    Mixed,
}
