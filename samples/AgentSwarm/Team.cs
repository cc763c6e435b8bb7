using System.Security.Cryptography;
using System.Text;
using ParallelExec.Agents;

namespace AgentSwarm;

/// <summary>What both ways of running the workflow share: the team's names, how an agent is started, the digest.</summary>
internal static class Team
{
    public static string[] Members(int size) => [.. Enumerable.Range(1, size).Select(static i => $"agent-{i}")];

    /// <summary>
    /// How to start an agent: this very program with <c>--agent</c>. Under <c>dotnet run</c> the process path is the
    /// app host; under <c>dotnet AgentSwarm.dll</c> it is the <c>dotnet</c> host, which needs the dll as first argument.
    /// </summary>
    public static ProcessAgentOptions AgentOptions(SwarmOptions options)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this program is unknown.");
        var agent = new ProcessAgentOptions
        {
            FileName = self,
            StartupTimeout = options.AgentStartup + TimeSpan.FromSeconds(30),
        };
        if (string.Equals(Path.GetFileNameWithoutExtension(self), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            agent.Arguments.Add(typeof(Team).Assembly.Location);
        }

        agent.Arguments.Add("--agent");
        agent.Arguments.Add("--startup-ms");
        agent.Arguments.Add(((int)options.AgentStartup.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Agents are short-lived helpers: skip the runtime's tiered-PGO instrumentation to start faster.
        agent.Environment["DOTNET_TieredPGO"] = "0";
        return agent;
    }

    /// <summary>The memory key of a file's note.</summary>
    public static string NoteKey(string path) => Path.GetFileName(path);

    /// <summary>The final result: a hash of every review (in team order) and every note (in file order).</summary>
    public static string Digest(IEnumerable<string> reviews, IEnumerable<string> notes)
    {
        var text = string.Join('\n', reviews) + "\n--\n" + string.Join('\n', notes);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 8));
    }
}

/// <summary>A hand-off over the bus: an agent gives its notes to a teammate to review.</summary>
internal sealed record HandOff(string Author, IReadOnlyList<string> Notes);
