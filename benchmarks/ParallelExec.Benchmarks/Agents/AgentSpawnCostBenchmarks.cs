using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// The cost of a process agent itself (no simulated start-up): start 8 TestAgent processes, wait for their ready lines,
/// stop them. Per agent (OperationsPerInvoke), one after another versus through a pool's bounded parallel warm-up.
/// </summary>
[MemoryDiagnoser]
public class AgentSpawnCostBenchmarks
{
    private const int Count = 8;
    private ProcessAgentOptions _options = null!;

    [GlobalSetup]
    public void Setup() => _options = AgentBenchmarkHost.Options(startupMs: 0);

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public async Task Sequential()
    {
        for (var i = 0; i < Count; i++)
        {
            var agent = await ProcessAgent.StartAsync(_options);
            await agent.DisposeAsync();
        }
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task ParallelExec()
    {
        await using var pool = Exec.Agents(_options).WithMaxAgents(Count).WithMaxConcurrentSpawns(Count).Build();
        await pool.WarmUpAsync(Count);
    }
}
