using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ParallelExec.Files;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Files;

/// <summary>The fast path: <c>ReadAllAsync(paths, process)</c> runs the per-file work on the workers, where the file was read.</summary>
public sealed class ParallelFilesReadProcessTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Each_file_is_processed_once_with_its_whole_content_and_a_bad_file_fails_alone()
    {
        var paths = Enumerable.Range(0, 200).Select(i => _dir.File($"f{i:D3}.bin")).ToArray();
        var random = new Random(7);
        var expected = new Dictionary<string, string>();
        foreach (var path in paths)
        {
            var content = new byte[random.Next(0, 200_000)];
            random.NextBytes(content);
            await File.WriteAllBytesAsync(path, content);
            expected[path] = Convert.ToHexString(SHA256.HashData(content));
        }

        var hashes = new ConcurrentDictionary<string, string>();
        var missing = _dir.File("missing.bin");
        await using var files = new ParallelFiles(new ParallelFilesOptions { MaxDegreeOfParallelism = 4 });

        var results = await Collect(files.ReadAllAsync(paths.Append(missing).Append("boom"), (path, content, _) =>
        {
            if (path == "boom")
            {
                throw new InvalidOperationException("never reached: the read fails first");
            }

            Assert.True(hashes.TryAdd(path, Convert.ToHexString(SHA256.HashData(content.Span))), path);
            return ValueTask.CompletedTask;
        }));

        Assert.Equal(paths.Length + 2, results.Count);
        Assert.Equal(expected, hashes);
        Assert.All(results.Where(r => paths.Contains(r.Path)), r => Assert.Equal(new FileInfo(r.Path).Length, r.BytesProcessed));
        Assert.All(results.Where(r => paths.Contains(r.Path)), r => Assert.True(r.Data.IsEmpty));
        Assert.IsType<FileNotFoundException>(results.Single(r => r.Path == missing).Exception);
        var ledger = files.GetStatistics().Ledger;
        Assert.Equal(paths.Length, ledger.Succeeded);
        Assert.Equal(2, ledger.Failed);
    }

    [Fact]
    public async Task The_callbacks_run_concurrently_on_the_workers_not_on_the_enumerating_thread()
    {
        var paths = Enumerable.Range(0, 4).Select(i => _dir.File($"f{i}.txt")).ToArray();
        foreach (var path in paths)
        {
            await File.WriteAllTextAsync(path, path);
        }

        // Every callback waits until all four have started: it can only finish if four run at once.
        using var allStarted = new CountdownEvent(4);
        await using var files = new ParallelFiles(new ParallelFilesOptions { MaxDegreeOfParallelism = 4 });

        var results = await Collect(files.ReadAllAsync(paths, (path, content, _) =>
        {
            Assert.Equal(path, Encoding.UTF8.GetString(content.Span));
            allStarted.Signal();
            Assert.True(allStarted.Wait(TestTimeout.Unexpected), "the callbacks did not run concurrently");
            return ValueTask.CompletedTask;
        })).WithTimeout();

        Assert.All(results, r => Assert.True(r.Succeeded, r.ToString()));
    }

    [Fact]
    public async Task A_callback_failure_fails_that_file_only()
    {
        var paths = Enumerable.Range(0, 10).Select(i => _dir.File($"f{i}.txt")).ToArray();
        foreach (var path in paths)
        {
            await File.WriteAllTextAsync(path, "x");
        }

        await using var files = new ParallelFiles();
        var results = await Collect(files.ReadAllAsync(paths, (path, _, _) =>
            path == paths[3] ? throw new FormatException("cannot parse") : ValueTask.CompletedTask));

        Assert.Equal(9, results.Count(r => r.Succeeded));
        Assert.IsType<FormatException>(results.Single(r => r.Path == paths[3]).Exception);
        Assert.Throws<ArgumentNullException>(() => files.ReadAllAsync(paths, (Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask>)null!));
    }

    private static async Task<List<FileResult>> Collect(IAsyncEnumerable<FileResult> results)
    {
        var list = new List<FileResult>();
        await foreach (var result in results.WithCancellation(CancellationToken.None))
        {
            list.Add(result);
        }

        return list;
    }
}
