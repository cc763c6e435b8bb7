namespace ParallelExec.Benchmarks.Files;

/// <summary>A temp directory of N files of 4 KiB, made once per benchmark class and deleted afterwards.</summary>
internal sealed class FilesBenchmarkData : IDisposable
{
    public const int FileSize = 4096;

    public FilesBenchmarkData(int count)
    {
        Directory = Path.Combine(Path.GetTempPath(), "parallelexec-bench-files-" + Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
        Content = new byte[FileSize];
        new Random(1).NextBytes(Content);
        Paths = Enumerable.Range(0, count).Select(i => Path.Combine(Directory, $"file-{i:D5}.bin")).ToArray();
        foreach (var path in Paths)
        {
            File.WriteAllBytes(path, Content);
        }
    }

    public string Directory { get; }

    public string[] Paths { get; }

    public byte[] Content { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
