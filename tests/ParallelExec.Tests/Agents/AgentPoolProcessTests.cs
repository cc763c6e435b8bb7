using System.Globalization;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Agents;

/// <summary>Pools of real TestAgent processes: overlapping spawns, crash replacement, garbage, and no process left behind.</summary>
public sealed class AgentPoolProcessTests
{
    [Fact]
    public async Task ParallelSpawns_ReallyOverlap()
    {
        // Each agent sleeps 1 s in its start-up; if the spawns overlap, every agent started before any became ready.
        await using var pool = Exec.Agents(TestAgentHost.Options("--startup-ms", "1000")).WithMaxAgents(3).WithMaxConcurrentSpawns(3).Build();

        await pool.WarmUpAsync(3).WithTimeout();

        var agents = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => pool.ExecuteAsync(async (agent, ct) =>
        {
            await Task.Yield();
            return TestAgentHost.ParseReady(agent.ReadyLine);
        }).AsTask())).WithTimeout();
        var pids = agents.Select(a => a.Pid).Distinct().ToArray();
        Assert.Equal(3, pids.Length);
        var lastStart = agents.Max(a => a.StartedAt);
        var firstReady = agents.Min(a => a.ReadyAt);
        Assert.True(lastStart < firstReady, $"start-ups did not overlap: last start {lastStart:O}, first ready {firstReady:O}");
        Assert.Equal(3, pool.GetStatistics().Spawned);
    }

    [Fact]
    public async Task KillMidRequest_FailsThatRequest_AndThePoolReplacesTheAgent()
    {
        await using var pool = Exec.Agents(TestAgentHost.Options()).WithMaxAgents(1).WithMinIdle(1).Build();
        await pool.WarmUpAsync(1).WithTimeout();
        var firstPid = await pool.RunAsync("pid").WithTimeout();

        var error = await Assert.ThrowsAsync<AgentCrashedException>(() => pool.RunAsync("crash-after:50").AsTask()).WithTimeout();
        Assert.Equal(3, error.ExitCode);

        var secondPid = await pool.RunAsync("pid").WithTimeout();
        Assert.NotEqual(firstPid, secondPid);
        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([int.Parse(firstPid, CultureInfo.InvariantCulture)]).WithTimeout());
        var stats = pool.GetStatistics();
        Assert.Equal(1, stats.Crashes);
        Assert.Equal(2, stats.Spawned);
    }

    [Fact]
    public async Task KillMidRequest_IsRetriedOnAFreshAgent_ThroughThePollyPipeline()
    {
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<AgentCrashedException>(),
                MaxRetryAttempts = 1,
                Delay = TimeSpan.Zero,
            })
            .Build();
        await using var pool = Exec.Agents(TestAgentHost.Options()).WithMaxAgents(1).WithResilience(pipeline).Build();
        var attempts = 0;

        // The first attempt's agent is killed mid-request; the retry runs on its replacement.
        var pid = await pool.ExecuteAsync((agent, ct) =>
            Interlocked.Increment(ref attempts) == 1 ? agent.SendAsync("crash", ct) : agent.SendAsync("pid", ct)).WithTimeout();

        Assert.Equal(2, attempts);
        Assert.Equal(1, pool.GetStatistics().Crashes);
        Assert.Equal(2, pool.GetStatistics().Spawned);
        Assert.True(TestAgentHost.IsAlive(int.Parse(pid, CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task GarbageOnStdout_FailsTheRequestNotThePool()
    {
        await using var pool = Exec.Agents(TestAgentHost.Options()).WithMaxAgents(1).Build();
        var pid = await pool.RunAsync("pid").WithTimeout();

        await Assert.ThrowsAsync<AgentProtocolException>(() => pool.RunAsync("garbage").AsTask()).WithTimeout();

        Assert.Equal(pid, await pool.RunAsync("pid").WithTimeout());
        var stats = pool.GetStatistics();
        Assert.Equal(0, stats.Crashes);
        Assert.Equal(1, stats.Spawned);
    }

    [Fact]
    public async Task MissingExecutable_FailsTheRequestWithAClearError()
    {
        await using var pool = Exec.Agents(new ProcessAgentOptions { FileName = "/nonexistent/agent-binary" }).Build();

        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => pool.RunAsync("x").AsTask()).WithTimeout();

        Assert.Contains("'/nonexistent/agent-binary' does not exist", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, pool.GetStatistics().SpawnFailures);
    }

    [Fact]
    public async Task Dispose_LeavesNoChildProcess()
    {
        var pool = Exec.Agents(TestAgentHost.Options()).WithMaxAgents(2).WithMaxConcurrencyPerAgent(2).Build();
        await pool.WarmUpAsync(2).WithTimeout();
        var pids = new List<int>();
        for (var i = 0; i < 2; i++)
        {
            pids.Add(int.Parse(await pool.RunAsync("pid").WithTimeout(), CultureInfo.InvariantCulture));
        }

        pids.Add(int.Parse(await pool.RunAsync("child").WithTimeout(), CultureInfo.InvariantCulture));
        Assert.Equal(3, pids.Distinct().Count());
        Assert.All(pids, pid => Assert.True(TestAgentHost.IsAlive(pid)));

        await pool.DisposeAsync().AsTask().WithTimeout();

        Assert.Empty(await TestAgentHost.StillAliveAfterAsync(pids).WithTimeout());
    }
}
