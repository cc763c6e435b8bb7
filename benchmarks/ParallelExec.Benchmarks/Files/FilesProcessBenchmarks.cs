using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using ParallelExec.Files;

namespace ParallelExec.Benchmarks.Files;

/// <summary>
/// Hashes (SHA-256) or parses (UTF-8 decode and line count) 3,000 real files — copies of the .NET installation's own
/// files (assemblies, XML docs, JSON, targets; up to 1 MiB each) in a temp folder, warm page cache: one at a time, with
/// Parallel.ForEachAsync over async reads, with ParallelFiles.ReadAllAsync consuming each result on the enumerating
/// thread, and with ReadAllAsync(paths, process), which runs the work on the worker that read the file.
/// </summary>
[MemoryDiagnoser]
public class FilesProcessBenchmarks
{
    private const int Count = 3000;
    private string _directory = null!;
    private string[] _paths = null!;
    private ParallelFiles _files = null!;

    /// <summary>Gets or sets the work done on each file's content.</summary>
    [Params(FileWork.Hash, FileWork.Parse)]
    public FileWork Work { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "parallelexec-bench-process-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        // The installation the benchmark runs on: thousands of real files of every size and kind.
        var dotnetRoot = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var sources = Directory.EnumerateFiles(dotnetRoot, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true })
            .Where(p => new FileInfo(p).Length is > 0 and <= 1024 * 1024)
            .Order(StringComparer.Ordinal)
            .Take(Count)
            .ToArray();
        _paths = new string[sources.Length];
        for (var i = 0; i < sources.Length; i++)
        {
            _paths[i] = Path.Combine(_directory, $"{i:D5}{Path.GetExtension(sources[i])}");
            File.Copy(sources[i], _paths[i]);
        }

        _files = new ParallelFiles();
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _files.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public long Sequential()
    {
        long total = 0;
        foreach (var path in _paths)
        {
            total += Process(File.ReadAllBytes(path));
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<long> ParallelForEachAsync()
    {
        long total = 0;
        await Parallel.ForEachAsync(_paths, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (path, ct) =>
        {
            var bytes = await File.ReadAllBytesAsync(path, ct);
            Interlocked.Add(ref total, Process(bytes));
        });
        return total;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<long> ParallelExecReadAllThenProcess()
    {
        long total = 0;
        await foreach (var result in _files.ReadAllAsync(_paths))
        {
            total += Process(result.ThrowIfFailed().Data.Span);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<long> ParallelExecReadAllProcess()
    {
        long total = 0;
        await foreach (var result in _files.ReadAllAsync(_paths, (_, content, _) =>
        {
            Interlocked.Add(ref total, Process(content.Span));
            return default;
        }))
        {
            result.ThrowIfFailed();
        }

        return total;
    }

    private long Process(ReadOnlySpan<byte> content)
    {
        if (Work == FileWork.Hash)
        {
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(content, hash);
            return hash[0];
        }

        // Parse: decode as UTF-8 (invalid bytes become replacement characters) and count the lines.
        var text = Encoding.UTF8.GetString(content);
        return text.AsSpan().Count('\n') + 1;
    }
}

/// <summary>What <see cref="FilesProcessBenchmarks"/> does with each file.</summary>
public enum FileWork
{
    /// <summary>SHA-256 of the content.</summary>
    Hash,

    /// <summary>UTF-8 decoding and a line count.</summary>
    Parse,
}
