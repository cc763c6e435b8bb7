using BenchmarkDotNet.Attributes;
using ParallelExec.Files;

namespace ParallelExec.Benchmarks.Files;

/// <summary>
/// Reads 2,000 files of 4 KiB (warm page cache): one at a time, with Parallel.ForEachAsync over async reads, and with
/// ParallelFiles (synchronous reads on bounded workers, its default, and asynchronous reads, the alternative it rejected).
/// </summary>
[MemoryDiagnoser]
public class FilesReadBenchmarks
{
    private const int Count = 2000;
    private FilesBenchmarkData _data = null!;
    private ParallelFiles _syncFiles = null!;
    private ParallelFiles _asyncFiles = null!;

    [GlobalSetup]
    public void Setup()
    {
        _data = new FilesBenchmarkData(Count);
        _syncFiles = new ParallelFiles();
        _asyncFiles = new ParallelFiles(new ParallelFilesOptions { UseAsynchronousReads = true });
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _syncFiles.DisposeAsync();
        await _asyncFiles.DisposeAsync();
        _data.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public long Sequential()
    {
        long total = 0;
        foreach (var path in _data.Paths)
        {
            total += File.ReadAllBytes(path).Length;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<long> ParallelForEachAsync()
    {
        long total = 0;
        await Parallel.ForEachAsync(_data.Paths, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (path, ct) =>
        {
            var bytes = await File.ReadAllBytesAsync(path, ct);
            Interlocked.Add(ref total, bytes.Length);
        });
        return total;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public Task<long> ParallelExec() => Sum(_syncFiles.ReadAllAsync(_data.Paths));

    [Benchmark(OperationsPerInvoke = Count)]
    public Task<long> ParallelExec_AsyncIO() => Sum(_asyncFiles.ReadAllAsync(_data.Paths));

    private static async Task<long> Sum(IAsyncEnumerable<FileResult> results)
    {
        long total = 0;
        await foreach (var result in results)
        {
            total += result.ThrowIfFailed().Data.Length;
        }

        return total;
    }
}
