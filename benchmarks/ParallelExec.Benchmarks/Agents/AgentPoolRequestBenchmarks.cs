using BenchmarkDotNet.Attributes;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// 200 requests of ~10 ms of agent work (<c>work:10</c>) against TestAgent processes whose start-up takes ~200 ms:
/// one agent serving them one at a time (the sequential way, agent started on demand), a cold pool of 4 agents (spawned
/// by the first requests), and a pool of 4 agents pre-warmed before the measurement.
/// </summary>
[MemoryDiagnoser]
public class AgentPoolRequestBenchmarks
{
    private const int Requests = 200;
    private const int PoolSize = 4;
    private ProcessAgentOptions _options = null!;
    private AgentPool<ProcessAgent> _warmPool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _options = AgentBenchmarkHost.Options(startupMs: 200);
        _warmPool = Exec.Agents(_options).WithMaxAgents(PoolSize).WithMinIdle(PoolSize).Build();
        _warmPool.WarmUpAsync(PoolSize).GetAwaiter().GetResult();
    }

    [GlobalCleanup]
    public void Cleanup() => _warmPool.DisposeAsync().AsTask().GetAwaiter().GetResult();

    [Benchmark(Baseline = true, OperationsPerInvoke = Requests)]
    public async Task Sequential()
    {
        await using var agent = await ProcessAgent.StartAsync(_options);
        for (var i = 0; i < Requests; i++)
        {
            await agent.SendAsync("work:10");
        }
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public async Task ParallelExec_ColdPool()
    {
        await using var pool = Exec.Agents(_options).WithMaxAgents(PoolSize).WithMaxConcurrentSpawns(PoolSize).Build();
        await RunAllAsync(pool);
    }

    [Benchmark(OperationsPerInvoke = Requests)]
    public Task ParallelExec_PreWarmedPool() => RunAllAsync(_warmPool);

    private static async Task RunAllAsync(AgentPool<ProcessAgent> pool)
    {
        var requests = new Task<string>[Requests];
        for (var i = 0; i < Requests; i++)
        {
            requests[i] = pool.RunAsync("work:10").AsTask();
        }

        await Task.WhenAll(requests);
    }
}
