using System.Collections.Concurrent;
using System.Text;
using ParallelExec.Files;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Files;

public sealed class ParallelFilesTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ReadAll_gives_every_file_exactly_one_result_and_bad_paths_fail_alone()
    {
        var good = Enumerable.Range(0, 50).Select(i => _dir.File($"f{i}.txt")).ToArray();
        foreach (var path in good)
        {
            await File.WriteAllTextAsync(path, "content of " + System.IO.Path.GetFileName(path));
        }

        var missing = _dir.File("missing.txt");
        var missingDirectory = _dir.File("no-such-dir/x.txt");
        var aDirectory = _dir.Path;
        var invalid = "bad\0path";
        var files = new ParallelFiles(new ParallelFilesOptions { MaxDegreeOfParallelism = 4 });

        var results = await Collect(files.ReadAllAsync(good.Concat([missing, missingDirectory, aDirectory, invalid])));

        // The ledger by path: every input exactly once.
        Assert.Equal(good.Length + 4, results.Count);
        Assert.Equal(results.Count, results.Select(r => r.Path).Distinct().Count());
        foreach (var path in good)
        {
            var result = Assert.Single(results, r => r.Path == path);
            Assert.True(result.Succeeded, result.ToString());
            Assert.Equal("content of " + System.IO.Path.GetFileName(path), Encoding.UTF8.GetString(result.Data.Span));
            Assert.Equal(FileOperation.Read, result.Operation);
        }

        Assert.IsType<FileNotFoundException>(Assert.Single(results, r => r.Path == missing).Exception);
        Assert.IsType<DirectoryNotFoundException>(Assert.Single(results, r => r.Path == missingDirectory).Exception);
        Assert.False(Assert.Single(results, r => r.Path == aDirectory).Succeeded);
        Assert.IsType<ArgumentException>(Assert.Single(results, r => r.Path == invalid).Exception);
        var stats = files.GetStatistics();
        Assert.Equal(good.Length, stats.Ledger.Succeeded);
        Assert.Equal(4, stats.Ledger.Failed);
        Assert.Equal(good.Length + 4, stats.Ledger.Submitted);
        Assert.True(stats.Ledger.IsBalanced);
    }

    [Fact]
    public async Task WriteAll_writes_every_file_and_leaves_no_temporary_file()
    {
        var files = Exec.Files().WithMaxDegreeOfParallelism(8).Build();
        var writes = Enumerable.Range(0, 200)
            .Select(i => (_dir.File($"w{i}.bin"), (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"value {i}")))
            .ToArray();

        var results = await Collect(files.WriteAllAsync(writes));

        Assert.Equal(writes.Select(w => w.Item1).Order(), results.Select(r => r.Path).Order());
        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        foreach (var (path, content) in writes)
        {
            Assert.Equal(content.ToArray(), await File.ReadAllBytesAsync(path));
        }

        Assert.Equal(writes.Length, _dir.AllEntries().Length);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Atomic_write_that_fails_midway_keeps_the_old_content_and_no_temporary_file(bool flushToDisk)
    {
        var target = _dir.File("precious.txt");
        await File.WriteAllTextAsync(target, "old content");
        var other = _dir.File("other.txt");
        var options = new ParallelFilesOptions
        {
            FlushToDisk = flushToDisk,
            StreamingThreshold = 16,
            BufferSize = 16,
            WriteStreamWrapper = inner => new FailingStream(inner, failAfterBytes: 40),
        };
        var files = new ParallelFiles(options);
        var bigContent = Encoding.UTF8.GetBytes(new string('n', 100));

        var results = await Collect(files.WriteAllAsync([(target, bigContent), (other, Encoding.UTF8.GetBytes("small"))]));

        var failed = Assert.Single(results, r => r.Path == target);
        Assert.False(failed.Succeeded);
        Assert.IsType<IOException>(failed.Exception);
        Assert.Equal("old content", await File.ReadAllTextAsync(target));
        Assert.True(Assert.Single(results, r => r.Path == other).Succeeded);
        Assert.Equal("small", await File.ReadAllTextAsync(other));
        Assert.Equal([other, target], _dir.AllEntries().Order().ToArray());
    }

    [Fact]
    public async Task Cancelled_write_keeps_the_old_content_and_no_temporary_file()
    {
        var target = _dir.File("precious.txt");
        await File.WriteAllTextAsync(target, "old content");
        using var cts = new CancellationTokenSource();
        var options = new ParallelFilesOptions
        {
            StreamingThreshold = 8,
            BufferSize = 8,
            MaxDegreeOfParallelism = 1,
            WriteStreamWrapper = inner => new FailingStream(inner, failAfterBytes: int.MaxValue, onWrite: cts.Cancel),
        };
        var files = new ParallelFiles(options);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => Collect(files.WriteAllAsync([(target, new byte[64])], cts.Token)).WithTimeout());

        Assert.Equal("old content", await File.ReadAllTextAsync(target));
        Assert.Equal([target], _dir.AllEntries());
    }

    [Fact]
    public async Task Non_atomic_write_replaces_content_in_place()
    {
        var target = _dir.File("a.txt");
        await File.WriteAllTextAsync(target, "a much longer old content");
        var files = Exec.Files().WithAtomicWrites(false).Build();

        var result = Assert.Single(await Collect(files.WriteAllAsync([(target, Encoding.UTF8.GetBytes("new"))])));

        Assert.True(result.Succeeded, result.ToString());
        Assert.Equal("new", await File.ReadAllTextAsync(target));
    }

    [Fact]
    public async Task Large_copy_streams_and_reports_progress_up_to_the_total()
    {
        var source = _dir.File("big.bin");
        var content = new byte[200_000];
        new Random(42).NextBytes(content);
        await File.WriteAllBytesAsync(source, content);
        var small = _dir.File("small.bin");
        await File.WriteAllBytesAsync(small, [1, 2, 3]);
        var progress = new RecordingProgress();
        var files = Exec.Files().WithStreaming(streamingThreshold: 1024, bufferSize: 4096).Build();

        var results = await Collect(files.CopyAllAsync(
            [(source, _dir.File("big-copy.bin")), (small, _dir.File("small-copy.bin")), (_dir.File("nope"), _dir.File("nope-copy"))],
            progress));

        Assert.Equal(3, results.Count);
        var big = Assert.Single(results, r => r.Path == source);
        Assert.True(big.Succeeded, big.ToString());
        Assert.Equal(content.Length, big.BytesProcessed);
        Assert.Equal(content, await File.ReadAllBytesAsync(_dir.File("big-copy.bin")));
        Assert.Equal(new byte[] { 1, 2, 3 }, await File.ReadAllBytesAsync(_dir.File("small-copy.bin")));
        Assert.IsType<FileNotFoundException>(Assert.Single(results, r => r.Path == _dir.File("nope")).Exception);
        Assert.False(File.Exists(_dir.File("nope-copy")));
        // Streamed in buffers: many reports, ending with the total of both copies.
        Assert.True(progress.Values.Count >= content.Length / 4096, $"only {progress.Values.Count} progress reports");
        Assert.Equal(content.Length + 3, progress.Values.Max());
    }

    [Fact]
    public async Task ReadChunks_streams_a_large_file_in_buffer_sized_chunks()
    {
        var path = _dir.File("big.bin");
        var content = new byte[100_000];
        new Random(7).NextBytes(content);
        await File.WriteAllBytesAsync(path, content);
        var files = new ParallelFiles(new ParallelFilesOptions { BufferSize = 8192 });
        using var collected = new MemoryStream();
        var chunkSizes = new List<int>();

        var results = await Collect(files.ReadChunksAsync([path, _dir.File("missing")], (p, chunk, ct) =>
        {
            chunkSizes.Add(chunk.Length);
            collected.Write(chunk.Span);
            return ValueTask.CompletedTask;
        }));

        Assert.True(Assert.Single(results, r => r.Path == path).Succeeded);
        Assert.False(Assert.Single(results, r => r.Path != path).Succeeded);
        Assert.Equal(content, collected.ToArray());
        Assert.All(chunkSizes, size => Assert.InRange(size, 1, 8192));
        Assert.Equal(content.Length, Assert.Single(results, r => r.Path == path).BytesProcessed);
    }

    [Fact]
    public async Task ReadDirectory_walks_the_tree_with_a_pattern_and_skips_hidden_temporary_files()
    {
        Directory.CreateDirectory(_dir.File("sub/deeper"));
        await File.WriteAllTextAsync(_dir.File("a.json"), "1");
        await File.WriteAllTextAsync(_dir.File("b.txt"), "2");
        await File.WriteAllTextAsync(_dir.File("sub/c.json"), "3");
        await File.WriteAllTextAsync(_dir.File("sub/deeper/d.json"), "4");
        await File.WriteAllTextAsync(_dir.File("sub/.e.json.123.tmp"), "temp");
        var files = new ParallelFiles();

        var recursive = await Collect(files.ReadDirectoryAsync(_dir.Path, "*.json"));
        var flat = await Collect(files.ReadDirectoryAsync(_dir.Path, "*.json", recursive: false));

        Assert.Equal(["1", "3", "4"], recursive.Select(r => Encoding.UTF8.GetString(r.Data.Span)).Order());
        Assert.Equal(["1"], flat.Select(r => Encoding.UTF8.GetString(r.Data.Span)));
        Assert.Throws<DirectoryNotFoundException>(() => files.ReadDirectoryAsync(_dir.File("nope"), "*"));
    }

    [Fact]
    public async Task DeleteAll_deletes_and_treats_a_missing_file_as_deleted()
    {
        await File.WriteAllTextAsync(_dir.File("x"), "x");
        var files = new ParallelFiles();

        var results = await Collect(files.DeleteAllAsync([_dir.File("x"), _dir.File("never-existed")]));

        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
        Assert.Empty(_dir.AllEntries());
    }

    [Fact]
    public async Task ProcessAll_runs_at_most_the_bound_at_once_and_isolates_a_throwing_file()
    {
        var paths = Enumerable.Range(0, 40).Select(i => $"item-{i}").ToArray();
        var running = 0;
        var maxRunning = 0;
        var seen = new ConcurrentBag<string>();
        var files = new ParallelFiles(new ParallelFilesOptions { MaxDegreeOfParallelism = 3 });

        var results = await Collect(files.ProcessAllAsync(paths, async (path, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            await Task.Yield();
            seen.Add(path);
            Interlocked.Decrement(ref running);
            if (path == "item-13")
            {
                throw new InvalidDataException("bad item");
            }
        }));

        Assert.InRange(maxRunning, 1, 3);
        Assert.Equal(paths.Order(), results.Select(r => r.Path).Order());
        Assert.Equal(paths.Order(), seen.Order());
        Assert.IsType<InvalidDataException>(Assert.Single(results, r => !r.Succeeded).Exception);
    }

    [Fact]
    public async Task Breaking_out_early_stops_the_workers_and_cancellation_throws()
    {
        var files = new ParallelFiles(new ParallelFilesOptions { MaxDegreeOfParallelism = 2 });
        var started = 0;
        await foreach (var result in files.ProcessAllAsync(Enumerable.Range(0, 10_000).Select(i => i.ToString()), (p, ct) =>
        {
            Interlocked.Increment(ref started);
            return ValueTask.CompletedTask;
        }))
        {
            break;
        }

        Assert.True(Volatile.Read(ref started) < 10_000);

        using var cts = new CancellationTokenSource();
        var enumeration = Collect(files.ProcessAllAsync(Enumerable.Range(0, 10).Select(i => i.ToString()), async (p, ct) =>
        {
            await cts.CancelAsync();
            await Task.Delay(Timeout.Infinite, ct);
        }, cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => enumeration.WithTimeout());
    }

    [Fact]
    public void Invalid_options_are_all_listed_in_one_exception()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ParallelFiles(new ParallelFilesOptions
        {
            MaxDegreeOfParallelism = 0,
            StreamingThreshold = -1,
            BufferSize = 0,
            TimeProvider = null!,
        }));

        Assert.Equal(
            "Invalid ParallelFilesOptions: TimeProvider = null: must not be null; MaxDegreeOfParallelism = 0: must be between 1 and 4096; StreamingThreshold = -1: must be zero or greater; BufferSize = 0: must be between 1 and 16777216. (Parameter 'TimeProvider')",
            ex.Message);
    }

    [Fact]
    public void Builder_is_single_use_and_arguments_are_checked()
    {
        var builder = Exec.Files();
        builder.Build();
        Assert.Contains("already built", Assert.Throws<InvalidOperationException>(() => builder.Build()).Message);
        Assert.Throws<InvalidOperationException>(() => builder.WithName("x"));

        var files = new ParallelFiles();
        Assert.Throws<ArgumentNullException>(() => files.ReadAllAsync(null!));
        Assert.Throws<ArgumentNullException>(() => files.ProcessAllAsync([], null!));
        Assert.Throws<ArgumentException>(() => ParallelFiles.EnumerateFiles(""));
    }

    private static async Task<List<FileResult>> Collect(IAsyncEnumerable<FileResult> results)
    {
        var list = new List<FileResult>();
        await foreach (var result in results)
        {
            list.Add(result);
        }

        return list;
    }

    private static void InterlockedMax(ref int location, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref location)) && Interlocked.CompareExchange(ref location, value, current) != current)
        {
        }
    }

    private sealed class RecordingProgress : IProgress<long>
    {
        public ConcurrentQueue<long> Values { get; } = new();

        public void Report(long value) => Values.Enqueue(value);
    }

    /// <summary>Passes writes through until <c>failAfterBytes</c> have been written, then throws as a full disk would.</summary>
    private sealed class FailingStream(Stream inner, int failAfterBytes, Action? onWrite = null) : WriteOnlyWrapperStream(inner)
    {
        private long _written;

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_written + buffer.Length > failAfterBytes)
            {
                throw new IOException("No space left on device (injected).");
            }

            Inner.Write(buffer);
            _written += buffer.Length;
            onWrite?.Invoke();
        }
    }
}
