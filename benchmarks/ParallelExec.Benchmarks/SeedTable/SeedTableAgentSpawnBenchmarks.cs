using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// Seed table, row "agent spawning" (analysis: 3 s sequential, 1 s parallel): start a team of three real agent
/// processes (tests/TestAgent), send each one request, stop them. <see cref="StartupMs"/> 0 is the real cost of starting
/// a .NET process (CPU-bound: it competes for the machine's cores); 1000 adds the analysis's one-second start-up per
/// agent (loading a model or context), which the agents wait out in parallel.
/// </summary>
[MemoryDiagnoser]
public class SeedTableAgentSpawnBenchmarks
{
    private const int TeamSize = 3;
    private ProcessAgentOptions _options = null!;

    [Params(0, 1000)]
    public int StartupMs { get; set; }

    [GlobalSetup]
    public void Setup() => _options = SeedTableAgents.Options(StartupMs);

    [Benchmark(Baseline = true)]
    public async Task<int> Sequential()
    {
        var agents = new List<ProcessAgent>(TeamSize);
        try
        {
            for (var i = 0; i < TeamSize; i++)
            {
                agents.Add(await ProcessAgent.StartAsync(_options, new AgentSpec { Name = $"agent-{i}" }));
            }

            var replied = 0;
            foreach (var agent in agents)
            {
                replied += (await agent.SendAsync("echo:ready")).Length;
            }

            return replied;
        }
        finally
        {
            foreach (var agent in agents)
            {
                await agent.DisposeAsync();
            }
        }
    }

    [Benchmark]
    public async Task<int> ParallelExec()
    {
        await using var pool = Exec.Agents(_options)
            .WithMaxAgents(TeamSize)
            .WithMaxConcurrentSpawns(TeamSize)
            .Build();
        await pool.WarmUpAsync(TeamSize);
        var replies = new Task<string>[TeamSize];
        for (var i = 0; i < TeamSize; i++)
        {
            replies[i] = pool.RunAsync("echo:ready").AsTask();
        }

        var replied = 0;
        foreach (var reply in await Task.WhenAll(replies))
        {
            replied += reply.Length;
        }

        return replied;
    }
}
