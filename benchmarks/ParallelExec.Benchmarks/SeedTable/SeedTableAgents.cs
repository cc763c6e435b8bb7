using ParallelExec.Agents;
using ParallelExec.Benchmarks.Agents;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// The real agent program the seed-table benchmarks spawn: tests/TestAgent, found the same way the agent benchmarks find
/// it, with a generous start-up timeout because the row simulates a one-second model load.
/// </summary>
internal static class SeedTableAgents
{
    public static ProcessAgentOptions Options(int startupMs)
    {
        var options = AgentBenchmarkHost.Options(startupMs);
        options.StartupTimeout = TimeSpan.FromSeconds(60);
        return options;
    }
}
