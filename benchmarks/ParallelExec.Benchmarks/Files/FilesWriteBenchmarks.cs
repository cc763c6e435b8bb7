using BenchmarkDotNet.Attributes;
using ParallelExec.Files;

namespace ParallelExec.Benchmarks.Files;

/// <summary>
/// Writes 2,000 files of 4 KiB (replacing existing ones): one at a time, with Parallel.ForEachAsync, and with
/// ParallelFiles in place (same guarantees as the peers) and atomically (temporary file + rename, its default).
/// </summary>
[MemoryDiagnoser]
public class FilesWriteBenchmarks
{
    private const int Count = 2000;
    private FilesBenchmarkData _data = null!;
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
    public void Cleanup() => _data.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public void Sequential()
    {
        foreach (var path in _data.Paths)
        {
            File.WriteAllBytes(path, _data.Content);
        }
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public Task ParallelForEachAsync() =>
        Parallel.ForEachAsync(_data.Paths, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (path, ct) =>
            await File.WriteAllBytesAsync(path, _data.Content, ct));

    [Benchmark(OperationsPerInvoke = Count)]
    public Task ParallelExec() => Drain(_inPlace.WriteAllAsync(_writes));

    [Benchmark(OperationsPerInvoke = Count)]
    public Task ParallelExec_Atomic() => Drain(_atomic.WriteAllAsync(_writes));

    private static async Task Drain(IAsyncEnumerable<FileResult> results)
    {
        await foreach (var result in results)
        {
            result.EnsureSucceeded();
        }
    }
}
