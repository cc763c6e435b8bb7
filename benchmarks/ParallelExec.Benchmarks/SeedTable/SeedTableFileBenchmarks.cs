using BenchmarkDotNet.Attributes;
using ParallelExec.Files;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// Seed table, row "file operations" (analysis: 250 ms per file, 50 ms per file batched): read and summarise 16 files
/// (count their lines). <see cref="FileLatencyMs"/> 0 reads local files from the page cache (CPU-bound, so
/// <see cref="ParallelFiles"/> uses one worker per core); 250 adds the analysis's remote-storage latency to each read,
/// and <see cref="ParallelFiles"/> keeps all 16 in flight.
/// </summary>
[MemoryDiagnoser]
public class SeedTableFileBenchmarks
{
    private const int FileCount = 16;
    private string _directory = null!;
    private string[] _paths = null!;
    private ParallelFiles _files = null!;

    [Params(0, 250)]
    public int FileLatencyMs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Directory.CreateTempSubdirectory("seedtable-files-").FullName;
        _paths = new string[FileCount];
        var line = "agent memory planner file batch queue worker graph message review context model\n"u8.ToArray();
        for (var i = 0; i < FileCount; i++)
        {
            _paths[i] = Path.Combine(_directory, $"module-{i:D2}.md");
            using var file = File.Create(_paths[i]);
            for (var l = 0; l < 200 + (i * 10); l++)
            {
                file.Write(line);
            }
        }

        _files = Exec.Files()
            .WithMaxDegreeOfParallelism(FileLatencyMs == 0 ? Environment.ProcessorCount : FileCount)
            .Build();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _files.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = FileCount)]
    public async Task<long> Sequential()
    {
        long lines = 0;
        foreach (var path in _paths)
        {
            lines += CountLines(await ReadRemoteAsync(path, CancellationToken.None));
        }

        return lines;
    }

    [Benchmark(OperationsPerInvoke = FileCount)]
    public async Task<long> ParallelExec()
    {
        long lines = 0;
        if (FileLatencyMs == 0)
        {
            await foreach (var result in _files.ReadAllAsync(_paths))
            {
                lines += CountLines(result.ThrowIfFailed().Data.Span);
            }

            return lines;
        }

        await foreach (var result in _files.ProcessAllAsync(_paths, async (path, ct) =>
        {
            var count = CountLines(await ReadRemoteAsync(path, ct));
            Interlocked.Add(ref lines, count);
        }))
        {
            result.ThrowIfFailed();
        }

        return lines;
    }

    private static long CountLines(ReadOnlySpan<byte> content) => content.Count((byte)'\n');

    private async ValueTask<byte[]> ReadRemoteAsync(string path, CancellationToken cancellationToken)
    {
        if (FileLatencyMs > 0)
        {
            await Task.Delay(FileLatencyMs, cancellationToken);
        }

        return await File.ReadAllBytesAsync(path, cancellationToken);
    }
}
