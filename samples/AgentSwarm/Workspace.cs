using System.Text;

namespace AgentSwarm;

/// <summary>
/// A generated workspace: text files an agent team reads and summarises. Reading a file waits
/// <see cref="ReadLatency"/> first, standing for remote storage (the analysis measured 250 ms per file).
/// </summary>
internal sealed class Workspace
{
    private static readonly string[] Vocabulary =
    [
        "agent", "memory", "planner", "file", "batch", "queue", "worker", "graph", "message", "review", "context",
        "model", "token", "budget", "latency", "cache", "retry", "schema", "index", "report", "deploy", "test",
    ];

    private Workspace(string directory, IReadOnlyList<string> files, TimeSpan readLatency)
    {
        Directory = directory;
        Files = files;
        ReadLatency = readLatency;
    }

    public string Directory { get; }

    /// <summary>Gets the files' full paths, in a stable order.</summary>
    public IReadOnlyList<string> Files { get; }

    public TimeSpan ReadLatency { get; }

    /// <summary>Writes <paramref name="count"/> files of pseudo-random text (the same text for the same count).</summary>
    public static Workspace Generate(string directory, int count, TimeSpan readLatency)
    {
        var folder = System.IO.Directory.CreateDirectory(Path.Combine(directory, "workspace")).FullName;
        var files = new List<string>(count);
        for (var i = 0; i < count; i++)
        {
            var random = new Random(i);
            var text = new StringBuilder();
            text.Append("# Module ").Append(i + 1).Append('\n');
            var lines = random.Next(20, 60);
            for (var line = 0; line < lines; line++)
            {
                var words = random.Next(6, 14);
                for (var w = 0; w < words; w++)
                {
                    text.Append(w == 0 ? string.Empty : " ").Append(Vocabulary[random.Next(Vocabulary.Length)]);
                }

                text.Append(".\n");
            }

            var path = Path.Combine(folder, $"module-{i + 1:D4}.md");
            File.WriteAllText(path, text.ToString());
            files.Add(path);
        }

        return new Workspace(folder, files, readLatency);
    }

    /// <summary>The files a team member works on: every <paramref name="teamSize"/>-th file, starting at its index.</summary>
    public IEnumerable<string> ShareOf(int member, int teamSize) => Files.Where((_, index) => index % teamSize == member);

    /// <summary>Reads one file as from remote storage: the latency, then the real read.</summary>
    public async ValueTask<string> ReadAsync(string path, CancellationToken cancellationToken)
    {
        if (ReadLatency > TimeSpan.Zero)
        {
            await Task.Delay(ReadLatency, cancellationToken);
        }

        return await File.ReadAllTextAsync(path, cancellationToken);
    }
}
