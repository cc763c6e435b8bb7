using System.Collections.Concurrent;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// An agent whose stop throws (a process that could not be killed) is reported, not swallowed: to
/// <see cref="AgentPoolOptions.OnError"/>, the statistics and <c>parallelexec.agents.stop.failures</c>; the other agents
/// are still stopped.
/// </summary>
public sealed class AgentPoolStopFailureTests
{
    [Fact]
    public async Task ARecycledAgentWhoseStopThrowsIsReportedThroughOnErrorStatisticsAndMetrics()
    {
        var name = "stop-failure-" + Guid.NewGuid().ToString("N");
        using var telemetry = new TelemetryRecorder(name, "parallelexec.agents.", recordSpans: false);
        var errors = new ConcurrentQueue<FailedItem>();
        var failure = new InvalidOperationException("kill refused");
        var factory = new DelegateAgentFactory<DelegateAgent>((spec, _) => ValueTask.FromResult(new DelegateAgent(
            spec.Name, (request, _) => ValueTask.FromResult(request), () => ValueTask.FromException(failure))));
        var pool = Exec.Agents(factory).WithName(name).Configure(o => o.MaxUses = 1).OnError(errors.Enqueue).Build();

        // MaxUses = 1: the agent is recycled (and its stop fails) once its request is released.
        Assert.Equal("a", await pool.RunAsync("a").AsTask().WithTimeout());
        await pool.DisposeAsync().AsTask().WithTimeout();

        var error = Assert.Single(errors);
        Assert.Same(failure, error.Exception);
        Assert.Equal(name, error.Component);
        var agent = Assert.IsType<DelegateAgent>(error.Item);
        Assert.Equal(agent.Id, error.Key);
        Assert.Equal(1, pool.GetStatistics().StopFailures);
        Assert.Equal(1, telemetry.Sum("parallelexec.agents.stop.failures"));
    }

    [Fact]
    public async Task TheDisposalStopsEveryAgentAndReportsEachOneThatFailed()
    {
        var errors = new ConcurrentQueue<FailedItem>();
        var stopped = 0;
        var sequence = 0;
        var factory = new DelegateAgentFactory<DelegateAgent>((spec, _) =>
        {
            var failing = Interlocked.Increment(ref sequence) % 2 == 1;
            return ValueTask.FromResult(new DelegateAgent(spec.Name, (request, _) => ValueTask.FromResult(request), () =>
            {
                Interlocked.Increment(ref stopped);
                return failing ? ValueTask.FromException(new IOException("stop failed " + spec.Name)) : ValueTask.CompletedTask;
            }));
        });
        var pool = Exec.Agents(factory).WithMaxAgents(4).WithMinIdle(4).OnError(e =>
        {
            errors.Enqueue(e);
            throw new InvalidOperationException("a throwing callback", e.Exception);
        }).Build();
        await pool.WarmUpAsync(4).WithTimeout();

        // A throwing OnError must not stop the disposal: every agent is still stopped.
        await pool.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal(4, stopped);
        Assert.Equal(2, pool.GetStatistics().StopFailures);
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.IsType<IOException>(e.Exception));
    }
}
