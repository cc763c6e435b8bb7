using BenchmarkDotNet.Attributes;
using ParallelExec.Files;

namespace ParallelExec.Benchmarks.Files;

/// <summary>
/// Rewrites files of 4 KiB (replacing existing ones) from a set of 2,000: one at a time, with Parallel.ForEachAsync, and
/// with ParallelFiles in place (same guarantees as the peers) and atomically (temporary file + rename, its default).
/// </summary>
/// <remarks>
/// Replacing a file's content on ext4 makes the kernel flush it on close (auto_da_alloc), about 3-4 ms per file here,
/// so one invocation rewrites a slice of 250 files (rotating through the 2,000) to keep a dry-job invocation short.
/// Per-file figures (OperationsPerInvoke) compare the same work.
/// </remarks>
[MemoryDiagnoser]
public class FilesWriteBenchmarks
{
    private const int Count = 2000;
    private const int Slice = 250;
    private FilesBenchmarkData _data = null!;
    private int _nextSlice;
    private (string Path, ReadOnlyMemory<byte> Content)[] _writes = null!;
    private ParallelFiles _inPlace = null!;
    private ParallelFiles _atomic = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new FilesBenchmarkData(Count);
        _writes = _data.Paths.Select(p => (p, (ReadOnlyMemory<byte>)_data.Content)).ToArray();
        _inPlace = new ParallelFiles(new ParallelFilesOptions { AtomicWrites = false });
        _atomic = new ParallelFiles();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _inPlace.DisposeAsync();
        await _atomic.DisposeAsync();
        _data.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Slice)]
    public void Sequential()
    {
        foreach (var (path, _) in NextSlice())
        {
            File.WriteAllBytes(path, _data.Content);
        }
    }

    [Benchmark(OperationsPerInvoke = Slice)]
    public Task ParallelForEachAsync() =>
        Parallel.ForEachAsync(NextSlice(), new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (write, ct) =>
            await File.WriteAllBytesAsync(write.Path, _data.Content, ct));

    [Benchmark(OperationsPerInvoke = Slice)]
    public Task ParallelExec() => Drain(_inPlace.WriteAllAsync(NextSlice()));

    [Benchmark(OperationsPerInvoke = Slice)]
    public Task ParallelExec_Atomic() => Drain(_atomic.WriteAllAsync(NextSlice()));

    private ArraySegment<(string Path, ReadOnlyMemory<byte> Content)> NextSlice()
    {
        var start = _nextSlice * Slice % Count;
        _nextSlice++;
        return new ArraySegment<(string Path, ReadOnlyMemory<byte> Content)>(_writes, start, Slice);
    }

    private static async Task Drain(IAsyncEnumerable<FileResult> results)
    {
        await foreach (var result in results)
        {
            result.ThrowIfFailed();
        }
    }
}
