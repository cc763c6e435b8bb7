using System.Text;
using ParallelExec.Files;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Files;

/// <summary>
/// <see cref="ParallelFilesOptions.RootDirectory"/> with real files and real symbolic links: paths that stay inside
/// work, paths that leave (through <c>..</c>, as absolute paths, through links to files or directories) fail alone with
/// a <see cref="PathOutsideRootException"/> naming the path, and nothing outside is read, written or deleted.
/// </summary>
public sealed class ParallelFilesRootTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly string _root;
    private readonly string _outside;
    private readonly string _secret;

    public ParallelFilesRootTests()
    {
        _root = Directory.CreateDirectory(_dir.File("root")).FullName;
        _outside = Directory.CreateDirectory(_dir.File("outside")).FullName;
        _secret = Path.Combine(_outside, "secret.txt");
        File.WriteAllText(_secret, "secret");
        Directory.CreateDirectory(Path.Combine(_root, "sub"));
        File.WriteAllText(Path.Combine(_root, "sub", "inside.txt"), "inside");
        File.CreateSymbolicLink(Path.Combine(_root, "file-link-out"), _secret);
        Directory.CreateSymbolicLink(Path.Combine(_root, "dir-link-out"), _outside);
        Directory.CreateSymbolicLink(Path.Combine(_root, "dir-link-in"), Path.Combine(_root, "sub"));
        // A relative link that climbs out, and a chain: inside link -> inside link -> outside.
        File.CreateSymbolicLink(Path.Combine(_root, "relative-out"), Path.Combine("..", "outside", "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(_root, "chain"), Path.Combine(_root, "file-link-out"));
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Reads_inside_the_root_work_and_every_escape_fails_alone_naming_its_path()
    {
        await using var files = Exec.Files().WithRoot(_root).Build();
        string[] inside = ["sub/inside.txt", Path.Combine(_root, "sub", "inside.txt"), "dir-link-in/inside.txt", "sub/../sub/inside.txt"];
        string[] escapes = ["../outside/secret.txt", _secret, "file-link-out", "dir-link-out/secret.txt", "relative-out", "chain", "sub/../../outside/secret.txt"];

        var results = await Collect(files.ReadAllAsync(inside.Concat(escapes)));

        Assert.Equal(inside.Length + escapes.Length, results.Count);
        foreach (var path in inside)
        {
            Assert.Equal("inside", Encoding.UTF8.GetString(results.Single(r => r.Path == path).ThrowIfFailed().Data.Span));
        }

        foreach (var path in escapes)
        {
            var failure = Assert.IsType<PathOutsideRootException>(results.Single(r => r.Path == path).Exception);
            Assert.Equal(path, failure.Path);
            Assert.Contains($"'{path}'", failure.Message);
            Assert.Equal(_root, failure.RootDirectory);
        }

        var throughLink = Assert.IsType<PathOutsideRootException>(results.Single(r => r.Path == "dir-link-out/secret.txt").Exception);
        Assert.Equal(_secret, throughLink.ResolvedPath);
        Assert.Null(Assert.IsType<PathOutsideRootException>(results.Single(r => r.Path == "../outside/secret.txt").Exception).ResolvedPath);
        Assert.Equal(inside.Length, files.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Writes_copies_and_deletes_that_would_leave_the_root_touch_nothing_outside()
    {
        await using var files = Exec.Files().WithRoot(_root).Build();
        var content = (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes("overwritten");

        var writes = await Collect(files.WriteAllAsync([("dir-link-out/secret.txt", content), ("file-link-out", content), ("../outside/new.txt", content), ("sub/new.txt", content)]));
        var copies = await Collect(files.CopyAllAsync([("file-link-out", "sub/copy.txt"), ("sub/inside.txt", "dir-link-out/copied.txt"), ("sub/inside.txt", "sub/copy2.txt")]));
        var deletes = await Collect(files.DeleteAllAsync(["dir-link-out/secret.txt", "../outside/secret.txt"]));

        Assert.Equal(["sub/new.txt"], writes.Where(r => r.Succeeded).Select(r => r.Path));
        Assert.All(writes.Where(r => !r.Succeeded), r => Assert.IsType<PathOutsideRootException>(r.Exception));
        Assert.Equal(["sub/inside.txt"], copies.Where(r => r.Succeeded).Select(r => r.Path));
        Assert.Equal("sub/copy2.txt", copies.Single(r => r.Succeeded).DestinationPath);
        Assert.All(copies.Where(r => !r.Succeeded), r => Assert.IsType<PathOutsideRootException>(r.Exception));
        Assert.All(deletes, r => Assert.IsType<PathOutsideRootException>(r.Exception));

        Assert.Equal("secret", File.ReadAllText(_secret));
        Assert.Equal(["secret.txt"], Directory.GetFiles(_outside).Select(Path.GetFileName));
        Assert.Equal("overwritten", File.ReadAllText(Path.Combine(_root, "sub", "new.txt")));
        Assert.False(File.Exists(Path.Combine(_root, "sub", "copy.txt")));
    }

    [Fact]
    public async Task Deleting_a_link_inside_the_root_removes_the_link_and_not_its_target()
    {
        await using var files = Exec.Files().WithRoot(_root).Build();

        var result = Assert.Single(await Collect(files.DeleteAllAsync(["file-link-out"])));

        Assert.True(result.Succeeded, result.ToString());
        Assert.False(File.Exists(Path.Combine(_root, "file-link-out")) || new FileInfo(Path.Combine(_root, "file-link-out")).LinkTarget is not null);
        Assert.Equal("secret", File.ReadAllText(_secret));
    }

    [Fact]
    public async Task Process_callbacks_get_the_checked_path_and_are_not_called_for_an_escape()
    {
        await using var files = Exec.Files().WithRoot(_root).Build();
        var seen = new System.Collections.Concurrent.ConcurrentBag<string>();

        var results = await Collect(files.ProcessAllAsync(["dir-link-in/inside.txt", "dir-link-out/secret.txt"], (path, _) =>
        {
            seen.Add(path);
            return ValueTask.CompletedTask;
        }));

        Assert.Equal([Path.Combine(_root, "sub", "inside.txt")], seen);
        Assert.IsType<PathOutsideRootException>(results.Single(r => !r.Succeeded).Exception);
    }

    [Fact]
    public void The_root_must_be_an_existing_directory()
    {
        var missing = _dir.File("no-such-root");
        var ex = Assert.Throws<ArgumentException>(() => new ParallelFiles(new ParallelFilesOptions { RootDirectory = missing }));
        Assert.Contains($"RootDirectory = \"{missing}\": must be an existing directory or null", ex.Message);
        Assert.Equal(nameof(ParallelFilesOptions.RootDirectory), ex.ParamName);
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
