using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// Spawning N TestAgent processes whose start-up takes ~200 ms (standing for loading a model): one after another (the
/// sequential way), with <c>Task.WhenAll</c>, and with a pool's parallel warm-up. Every method also stops its agents,
/// concurrently, so they all pay the same clean-up.
/// </summary>
[MemoryDiagnoser]
public class AgentSpawnBenchmarks
{
    private ProcessAgentOptions _options = null!;

    [Params(1, 3, 8)]
    public int Agents { get; set; }

    [GlobalSetup]
    public void Setup() => _options = AgentBenchmarkHost.Options(startupMs: 200);

    [Benchmark(Baseline = true)]
    public async Task Sequential()
    {
        var agents = new List<ProcessAgent>(Agents);
        for (var i = 0; i < Agents; i++)
        {
            agents.Add(await ProcessAgent.StartAsync(_options));
        }

        await Task.WhenAll(agents.Select(a => a.DisposeAsync().AsTask()));
    }

    [Benchmark]
    public async Task WhenAll()
    {
        var agents = await Task.WhenAll(Enumerable.Range(0, Agents).Select(_ => ProcessAgent.StartAsync(_options)));
        await Task.WhenAll(agents.Select(a => a.DisposeAsync().AsTask()));
    }

    [Benchmark]
    public async Task ParallelExec()
    {
        await using var pool = Exec.Agents(_options).WithMaxAgents(Agents).WithMaxConcurrentSpawns(Agents).Build();
        await pool.WarmUpAsync(Agents);
    }
}
