using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// Latency of the first request (~10 ms of agent work) when the agent's start-up takes ~200 ms: spawning the agent on
/// demand (the sequential way), on a cold pool (lazy spawn), and on a pool whose MinIdle agent was pre-warmed before the
/// request arrived.
/// </summary>
[MemoryDiagnoser]
public class AgentFirstRequestBenchmarks
{
    private ProcessAgentOptions _options = null!;
    private AgentPool<ProcessAgent> _warmPool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _options = AgentBenchmarkHost.Options(startupMs: 200);
        _warmPool = Exec.Agents(_options).WithMaxAgents(1).WithMinIdle(1).Build();
        _warmPool.WarmUpAsync(1).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _warmPool.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true)]
    public async Task<string> Sequential()
    {
        await using var agent = await ProcessAgent.StartAsync(_options);
        return await agent.SendAsync("work:10");
    }

    [Benchmark]
    public async Task<string> ParallelExec_ColdPool()
    {
        await using var pool = Exec.Agents(_options).WithMaxAgents(1).Build();
        return await pool.RunAsync("work:10");
    }

    [Benchmark]
    public async Task<string> ParallelExec_PreWarmedPool() => await _warmPool.RunAsync("work:10");
}
