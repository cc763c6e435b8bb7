using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// Spawning N in-process agents whose start-up waits ~200 ms (loading a model or a context over I/O, not burning CPU):
/// isolates what the pool's parallel spawning saves from the CPU cost of booting OS processes, which on a saturated
/// machine no amount of parallelism hides (see <see cref="AgentSpawnBenchmarks"/>).
/// </summary>
[MemoryDiagnoser]
public class AgentSpawnInProcessBenchmarks
{
    private static readonly TimeSpan Startup = TimeSpan.FromMilliseconds(200);

    [Params(1, 3, 8)]
    public int Agents { get; set; }

    [Benchmark(Baseline = true)]
    public async Task Sequential()
    {
        var agents = new List<DelegateAgent>(Agents);
        for (var i = 0; i < Agents; i++)
        {
            agents.Add(await StartAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), CancellationToken.None));
        }

        foreach (var agent in agents)
        {
            await agent.DisposeAsync();
        }
    }

    [Benchmark]
    public async Task WhenAll()
    {
        var agents = await Task.WhenAll(Enumerable.Range(0, Agents).Select(i => StartAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture), CancellationToken.None)));
        foreach (var agent in agents)
        {
            await agent.DisposeAsync();
        }
    }

    [Benchmark]
    public async Task ParallelExec()
    {
        await using var pool = Exec.Agents((spec, ct) => new ValueTask<DelegateAgent>(StartAsync(spec.Name, ct)))
            .WithMaxAgents(Agents)
            .WithMaxConcurrentSpawns(Agents)
            .Build();
        await pool.WarmUpAsync(Agents);
    }

    private static async Task<DelegateAgent> StartAsync(string name, CancellationToken cancellationToken)
    {
        await Task.Delay(Startup, cancellationToken);
        return new DelegateAgent(name, static (request, _) => ValueTask.FromResult(request));
    }
}
