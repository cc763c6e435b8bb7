using System.Globalization;

namespace AgentSwarm;

/// <summary>The sample's command-line options, with defaults that finish in well under a minute.</summary>
internal sealed class SwarmOptions
{
    public const string HelpText = """
        AgentSwarm: an agent-orchestration workflow run the sequential way and the ParallelExec way.

        A team of real agent processes (this program, started again with --agent) reads and summarises the files of a
        generated workspace, stores the notes in a SQLite memory store, hands its notes to a teammate for review and
        ends with a digest of all notes and reviews. Both ways must give the same digest; the table at the end compares
        their timings with the analysis that motivated ParallelExec.

        Usage: dotnet run --project samples/AgentSwarm [-- options]

        Team and workload:
          --team N                agents in the team (default 5)
          --files N               files in the generated workspace (default 32)
          --max-parallel-files N  files read at once by the ParallelExec way (default 16)

        Simulated latencies (what the analysis measured; 0 turns one off and leaves the real work):
          --agent-startup-ms N    start-up of one agent, loading its model or context (default 1000)
          --file-latency-ms N     one file read from remote storage (default 250)
          --memory-latency-ms N   one call to the memory store, as over a network (default 100)
          --step-latency-ms N     one synchronous hand-off between two agents (default 500)
          --no-latency            all four latencies 0: only the real processes, files, SQLite and bus remain

        Where things go:
          --workdir DIR           where the workspace and the database are created (default: a new temp directory,
                                  deleted at the end)
          --db FILE               the SQLite memory database (default: memory.db in the work directory)
          --store redis://HOST:PORT
                                  keep the memory on a Redis server instead of SQLite (each run under keys of its
                                  own); the simulated memory latency still applies on top of the real network
          --keep                  keep the temp directory

          -h, --help              show this help
        """;

    public int TeamSize { get; private set; } = 5;

    public int FileCount { get; private set; } = 32;

    public int MaxParallelFiles { get; private set; } = 16;

    public TimeSpan AgentStartup { get; private set; } = TimeSpan.FromMilliseconds(1000);

    public TimeSpan FileLatency { get; private set; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MemoryLatency { get; private set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan StepLatency { get; private set; } = TimeSpan.FromMilliseconds(500);

    public string? WorkDirectory { get; private set; }

    public string? DatabasePath { get; private set; }

    /// <summary>Gets the Redis server (<c>host:port</c>) of <c>--store redis://host:port</c>, or <see langword="null"/> for SQLite.</summary>
    public string? RedisServer { get; private set; }

    public bool Keep { get; private set; }

    public bool ShowHelp { get; private set; }

    /// <summary>Parses the arguments; throws <see cref="ArgumentException"/> naming the bad argument.</summary>
    public static SwarmOptions Parse(string[] args)
    {
        var options = new SwarmOptions();
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            switch (name)
            {
                case "-h" or "--help" or "-?":
                    options.ShowHelp = true;
                    break;
                case "--team":
                    options.TeamSize = Count(name, Next(args, ref i), min: 1, max: 64);
                    break;
                case "--files":
                    options.FileCount = Count(name, Next(args, ref i), min: 1, max: 100_000);
                    break;
                case "--max-parallel-files":
                    options.MaxParallelFiles = Count(name, Next(args, ref i), min: 1, max: 1024);
                    break;
                case "--agent-startup-ms":
                    options.AgentStartup = Milliseconds(name, Next(args, ref i));
                    break;
                case "--file-latency-ms":
                    options.FileLatency = Milliseconds(name, Next(args, ref i));
                    break;
                case "--memory-latency-ms":
                    options.MemoryLatency = Milliseconds(name, Next(args, ref i));
                    break;
                case "--step-latency-ms":
                    options.StepLatency = Milliseconds(name, Next(args, ref i));
                    break;
                case "--no-latency":
                    options.AgentStartup = options.FileLatency = options.MemoryLatency = options.StepLatency = TimeSpan.Zero;
                    break;
                case "--workdir":
                    options.WorkDirectory = Path.GetFullPath(Next(args, ref i));
                    break;
                case "--db":
                    options.DatabasePath = Path.GetFullPath(Next(args, ref i));
                    break;
                case "--store":
                    options.RedisServer = RedisServerOf(name, Next(args, ref i));
                    break;
                case "--keep":
                    options.Keep = true;
                    break;
                default:
                    throw new ArgumentException($"Unknown option '{name}'. Run with --help to see the options.");
            }
        }

        return options;
    }

    private static string RedisServerOf(string name, string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme == "redis" && uri.Host.Length > 0 && uri.AbsolutePath is "" or "/"
            ? $"{uri.Host}:{(uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port)}"
            : throw new ArgumentException($"Option '{name}' must be redis://HOST:PORT (for example redis://127.0.0.1:6379), not '{text}'.");

    private static string Next(string[] args, ref int i) =>
        ++i < args.Length ? args[i] : throw new ArgumentException($"Option '{args[i - 1]}' needs a value.");

    private static int Count(string name, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new ArgumentException($"Option '{name}' must be a whole number from {min} to {max}, not '{text}'.");

    private static TimeSpan Milliseconds(string name, string text) =>
        TimeSpan.FromMilliseconds(Count(name, text, min: 0, max: 600_000));
}
