using System.Collections.Concurrent;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>A request's operation that awaits its own pool's DisposeAsync must not wait for itself.</summary>
public sealed class AgentPoolSelfDisposeTests
{
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Request_disposing_its_own_pool_returns_once_the_other_requests_ended_and_outside_callers_wait_for_it()
    {
        var served = new ConcurrentQueue<string>();
        var otherStarted = NewSignal();
        var releaseOther = NewSignal();
        var factory = new RecordingFactory(async (agent, request, _) =>
        {
            if (request == "other")
            {
                otherStarted.SetResult();
                await releaseOther.Task;
            }

            served.Enqueue(request);
            return request;
        });
        var pool = Exec.Agents(factory).WithMaxAgents(2).Build();
        await pool.WarmUpAsync(2).WithTimeout();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var selfFinish = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        string[]? servedWhenDisposeReturned = null;
        try
        {
            var self = pool.ExecuteAsync(async (agent, _) =>
            {
                selfStarted.SetResult();
                await selfGo.Task;
                var disposing = pool.DisposeAsync().AsTask();
                insideDispose.SetResult(disposing);
                await disposing;
                servedWhenDisposeReturned = [.. served];
                await selfFinish.Task;
                return "self";
            }).AsTask();
            await selfStarted.Task.WithTimeout();
            var other = pool.RunAsync("other").AsTask();
            await otherStarted.Task.WithTimeout();
            var queued = Enumerable.Range(0, 3).Select(i => pool.RunAsync($"q{i}").AsTask()).ToList();
            await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 3);

            selfGo.SetResult();
            var fromInside = await insideDispose.Task.WithTimeout();
            Assert.False(fromInside.IsCompleted); // "other" still runs and three requests wait for an agent
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.RunAsync("late"));
            var fromOutside = pool.DisposeAsync().AsTask();

            releaseOther.SetResult();
            await fromInside.WithTimeout();
            await TestTimeout.WaitUntilAsync(() => servedWhenDisposeReturned is not null);
            Assert.Equal(["other", "q0", "q1", "q2"], servedWhenDisposeReturned!);
            Assert.False(fromOutside.IsCompleted); // the outside call waits for the request that disposed the pool too

            selfFinish.SetResult();
            await fromOutside.WithTimeout();
            Assert.Equal("self", await self.WithTimeout());
            Assert.Equal("other", await other.WithTimeout());
            var results = await Task.WhenAll(queued).WithTimeout();
            Assert.Equal(["q0", "q1", "q2"], results);
            var statistics = pool.GetStatistics();
            Assert.Equal(5, statistics.Ledger.Succeeded);
            Assert.Equal(0, statistics.Ledger.Dropped + statistics.Ledger.Cancelled);
            Assert.Equal(0, statistics.Ledger.Failed); // the late request refused at intake was never admitted
            Assert.Equal(5, statistics.Ledger.Submitted);
            Assert.All(factory.Agents, agent => Assert.True(agent.IsDisposed));
        }
        finally
        {
            releaseOther.TrySetResult();
            selfFinish.TrySetResult();
        }
    }

    [Fact]
    public async Task Request_disposing_from_the_only_agent_returns_at_once_and_the_queued_requests_are_served_after_it()
    {
        var served = new ConcurrentQueue<string>();
        var factory = new RecordingFactory((agent, request, _) =>
        {
            served.Enqueue(request);
            return ValueTask.FromResult(request);
        });
        var pool = Exec.Agents(factory).WithMaxAgents(1).Build();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var self = pool.ExecuteAsync(async (agent, _) =>
        {
            selfStarted.SetResult();
            await selfGo.Task;
            await pool.DisposeAsync(); // the queued requests need this request's agent
            served.Enqueue("self");
            return true;
        }).AsTask();
        await selfStarted.Task.WithTimeout();
        var queued = Enumerable.Range(0, 2).Select(i => pool.RunAsync($"q{i}").AsTask()).ToList();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 2);

        selfGo.SetResult();
        Assert.True(await self.WithTimeout());
        var results = await Task.WhenAll(queued).WithTimeout();
        Assert.Equal(["q0", "q1"], results);
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(["self", "q0", "q1"], served);
        Assert.Equal(3, pool.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Agent_disposing_its_pool_from_SendAsync_does_not_wait_for_itself()
    {
        AgentPool<DelegateAgent>? pool = null;
        var factory = new RecordingFactory(async (agent, request, _) =>
        {
            await pool!.DisposeAsync();
            return request;
        });
        pool = Exec.Agents(factory).WithMaxAgents(1).Build();

        Assert.Equal("bye", await pool.RunAsync("bye").WithTimeout());
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(1, pool.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Factory_disposing_its_pool_while_it_creates_an_agent_does_not_wait_for_its_own_spawn()
    {
        // The disposal waits for the spawns in flight; a factory awaiting it used to wait for itself forever.
        AgentPool<DelegateAgent>? pool = null;
        var created = new ConcurrentQueue<DelegateAgent>();
        var factory = new DelegateAgentFactory<DelegateAgent>(async (spec, _) =>
        {
            await pool!.DisposeAsync();
            var agent = new DelegateAgent(spec.Name, (request, _) => ValueTask.FromResult("served " + request));
            created.Enqueue(agent);
            return agent;
        });
        pool = Exec.Agents(factory).WithMaxAgents(1).Build();

        // The request that made the pool spawn waited in its queue when the disposal began, so it is still served.
        Assert.Equal("served r", await pool.RunAsync("r").WithTimeout());
        await pool.DisposeAsync().WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.RunAsync("late"));
        var agent = Assert.Single(created);
        Assert.True(agent.IsDisposed);
        Assert.Equal((1L, 1L), (pool.GetStatistics().Spawned, pool.GetStatistics().Ledger.Succeeded));
    }

    [Fact]
    public async Task Shared_context_factory_disposing_the_pool_ends_and_every_agent_is_stopped()
    {
        AgentPool<DelegateAgent>? pool = null;
        var factory = new RecordingFactory();
        pool = Exec.Agents(factory)
            .WithMaxAgents(1)
            .WithSharedContext(async _ =>
            {
                await pool!.DisposeAsync();
                return "context";
            })
            .Build();

        var warmUp = pool.WarmUpAsync(1);
        await pool.DisposeAsync().WithTimeout();

        // The agent may join the pool before it stops (the warm-up is met) or after (the warm-up fails as disposed);
        // either way the disposal ends and stops it.
        var warmUpError = await Record.ExceptionAsync(() => warmUp.WithTimeout());
        Assert.True(warmUpError is null or ObjectDisposedException, $"unexpected warm-up outcome: {warmUpError}");
        Assert.All(factory.Agents, agent => Assert.True(agent.IsDisposed));
    }
}
