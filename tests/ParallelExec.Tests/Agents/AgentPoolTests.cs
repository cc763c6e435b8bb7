using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Agents;

/// <summary>The pool's spawning, balancing, queueing, health and disposal, with in-process agents.</summary>
public sealed class AgentPoolTests
{
    [Fact]
    public async Task SpawnsLazily_OnTheFirstRequest()
    {
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithName("lazy").Build();

        Assert.Equal(0, pool.GetStatistics().Spawned);
        Assert.Equal("agent-1:hi", await pool.RunAsync("hi").WithTimeout());

        var stats = pool.GetStatistics();
        Assert.Equal(1, stats.Spawned);
        Assert.Equal(1, stats.Idle);
        Assert.Equal(1, stats.Ledger.Succeeded);
    }

    [Fact]
    public async Task WarmUp_SpawnsInParallel_BoundedByMaxConcurrentSpawns()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory { Gate = gate.Task };
        await using var pool = Exec.Agents(factory).WithMaxAgents(6).WithMaxConcurrentSpawns(3).Build();

        var warm = pool.WarmUpAsync(6);
        await TestTimeout.WaitUntilAsync(() => factory.Creating == 3);
        Assert.Equal(6, pool.GetStatistics().Spawning);
        Assert.False(warm.IsCompleted);
        gate.SetResult();
        await warm.WithTimeout();

        Assert.Equal(3, factory.MaxConcurrentCreations);
        Assert.Equal(6, pool.GetStatistics().Agents);
        Assert.Equal(6, factory.Specs.Select(s => s.Name).Distinct().Count());
    }

    [Fact]
    public async Task MinIdle_PreWarmsAtBuild_AndRefillsInTheBackgroundWithoutBlockingCallers()
    {
        var factory = new RecordingFactory();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pool = Exec.Agents(factory).WithMaxAgents(4).WithMinIdle(2).Build();
        await factory.NextCreatedAsync();
        await factory.NextCreatedAsync();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Idle == 2);

        // Hold the refill's spawn: a caller must still be served at once by an idle agent.
        var refillGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        factory.Gate = refillGate.Task;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var busy = pool.ExecuteAsync(async (agent, ct) =>
        {
            started.SetResult();
            await release.Task;
            return agent.Id;
        }).AsTask();
        await started.Task.WithTimeout();
        await TestTimeout.WaitUntilAsync(() => factory.Creating == 1);
        Assert.Equal(1, pool.GetStatistics().Idle);

        refillGate.SetResult();
        await factory.NextCreatedAsync();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Idle == 2);
        Assert.Equal(3, pool.GetStatistics().Agents);
        release.SetResult();
        await busy.WithTimeout();
    }

    [Fact]
    public async Task MaxAgents_CapsSpawns_AndCallersWaitInTheQueue()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(2).Build();

        var requests = Enumerable.Range(0, 5).Select(i => pool.RunAsync("r" + i).AsTask()).ToArray();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics() is { Busy: 2, Ledger.Queued: 3 });
        Assert.Equal(2, factory.Agents.Count);
        release.SetResult();

        var results = await Task.WhenAll(requests).WithTimeout();
        Assert.Equal(Enumerable.Range(0, 5).Select(i => "r" + i), results);
        Assert.Equal(2, pool.GetStatistics().Spawned);
    }

    [Fact]
    public async Task SharedContext_IsLoadedOnce_AndHandedToEveryAgent()
    {
        var loads = 0;
        var context = new object();
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory)
            .WithMaxAgents(4)
            .WithSpec(new AgentSpec { Kind = "model", Name = "m", Arguments = ["--x"] })
            .WithSharedContext(async ct =>
            {
                Interlocked.Increment(ref loads);
                await Task.Yield();
                return context;
            })
            .Build();

        await pool.WarmUpAsync(4).WithTimeout();

        Assert.Equal(1, loads);
        Assert.All(factory.Specs, spec =>
        {
            Assert.Same(context, spec.SharedContext);
            Assert.Equal("model", spec.Kind);
            Assert.Equal(["--x"], spec.Arguments);
            Assert.StartsWith("m-", spec.Name, StringComparison.Ordinal);
        });
    }

    [Theory]
    [InlineData(LoadBalancingStrategy.RoundRobin)]
    [InlineData(LoadBalancingStrategy.LeastBusy)]
    public async Task SequentialRequests_AreSpreadEvenly(LoadBalancingStrategy strategy)
    {
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithMaxAgents(4).WithLoadBalancing(strategy).Build();
        await pool.WarmUpAsync(4).WithTimeout();

        var served = new List<string>();
        for (var i = 0; i < 40; i++)
        {
            served.Add((await pool.RunAsync("x").WithTimeout()).Split(':')[0]);
        }

        Assert.Equal(4, served.Distinct().Count());
        Assert.All(served.GroupBy(id => id), g => Assert.Equal(10, g.Count()));
        if (strategy == LoadBalancingStrategy.RoundRobin)
        {
            // In turn: the same order every lap.
            Assert.Equal(served.Take(4), served.Skip(4).Take(4));
        }
    }

    [Fact]
    public async Task PowerOfTwoChoices_SpreadsRequests()
    {
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithMaxAgents(5).WithLoadBalancing(LoadBalancingStrategy.PowerOfTwoChoices).Build();
        await pool.WarmUpAsync(5).WithTimeout();

        var counts = new Dictionary<string, int>();
        for (var i = 0; i < 500; i++)
        {
            var id = (await pool.RunAsync("x")).Split(':')[0];
            counts[id] = counts.GetValueOrDefault(id) + 1;
        }

        // Two draws, the one with fewer uses: every agent is used and none is far from the mean of 100.
        Assert.Equal(5, counts.Count);
        Assert.All(counts.Values, c => Assert.InRange(c, 60, 140));
    }

    [Fact]
    public async Task LeastBusy_SkipsBusyAgents()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            if (request == "hold")
            {
                await release.Task;
            }

            return agent.Id;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(3).WithMaxConcurrencyPerAgent(2).Build();
        await pool.WarmUpAsync(3).WithTimeout();

        var held = new[] { pool.RunAsync("hold").AsTask(), pool.RunAsync("hold").AsTask() };
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 2);

        // Two agents carry one request each; the third is the only one with none in flight.
        var free = await pool.RunAsync("now").WithTimeout();
        release.SetResult();
        var heldBy = await Task.WhenAll(held).WithTimeout();
        Assert.DoesNotContain(free, heldBy);
        Assert.Equal(2, heldBy.Distinct().Count());
    }

    [Fact]
    public async Task Affinity_SendsAKeyToTheSameAgent_AndWaitsForItWhenBusy()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            if (request == "hold")
            {
                await release.Task;
            }

            return agent.Id;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(3).WithLoadBalancing(LoadBalancingStrategy.RoundRobin).Build();
        await pool.WarmUpAsync(3).WithTimeout();

        var owners = new Dictionary<string, HashSet<string>>();
        for (var i = 0; i < 30; i++)
        {
            var key = "session-" + (i % 3);
            var id = await pool.RunWithAffinityAsync(key, "x").WithTimeout();
            (owners.TryGetValue(key, out var set) ? set : owners[key] = []).Add(id);
        }

        Assert.All(owners.Values, set => Assert.Single(set));
        Assert.Equal(3, owners.Values.Select(s => s.Single()).Distinct().Count());

        // While session-0's agent is busy, another session-0 request waits for it although other agents are free.
        var held = pool.RunWithAffinityAsync("session-0", "hold").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        var queued = pool.RunWithAffinityAsync("session-0", "x").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);
        Assert.NotEqual(owners["session-0"].Single(), await pool.RunAsync("x").WithTimeout());
        Assert.False(queued.IsCompleted);
        release.SetResult();
        Assert.Equal(owners["session-0"].Single(), await queued.WithTimeout());
        await held.WithTimeout();
    }

    [Fact]
    public async Task Affinity_Rebinds_WhenItsAgentIsReplaced()
    {
        var factory = new RecordingFactory((agent, request, ct) =>
        {
            if (request == "break")
            {
                agent.MarkUnhealthy();
            }

            return ValueTask.FromResult(agent.Id);
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(2).Build();

        var first = await pool.RunWithAffinityAsync("k", "break").WithTimeout();
        var second = await pool.RunWithAffinityAsync("k", "x").WithTimeout();
        var third = await pool.RunWithAffinityAsync("k", "x").WithTimeout();

        Assert.NotEqual(first, second);
        Assert.Equal(second, third);
        Assert.Equal(1, pool.GetStatistics().Crashes);
        Assert.True(factory.Agents.First().IsDisposed);
    }

    [Fact]
    public async Task MaxConcurrencyPerAgent_LetsOneAgentServeSeveralRequests()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFlight = 0;
        var maxInFlight = 0;
        var statsGate = new object();
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            var now = Interlocked.Increment(ref inFlight);
            lock (statsGate)
            {
                maxInFlight = Math.Max(maxInFlight, now);
            }

            await release.Task;
            Interlocked.Decrement(ref inFlight);
            return request;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).WithMaxConcurrencyPerAgent(3).Build();

        var requests = Enumerable.Range(0, 5).Select(i => pool.RunAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsTask()).ToArray();
        // Wait until three operations are inside the agent, not only counted in flight by the pool: released earlier, a
        // third one could enter after the first two had left, and the peak would race.
        await TestTimeout.WaitUntilAsync(() => Volatile.Read(ref inFlight) == 3 && pool.GetStatistics() is { Ledger.InFlight: 3, Ledger.Queued: 2 });
        release.SetResult();

        Assert.Equal(["0", "1", "2", "3", "4"], await Task.WhenAll(requests).WithTimeout());
        Assert.Equal(3, maxInFlight);
        Assert.Single(factory.Agents);
    }

    [Theory]
    [InlineData(QueueFullMode.Reject, "r3", DropReason.Rejected)]
    [InlineData(QueueFullMode.DropOldest, "r1", DropReason.DroppedOldest)]
    [InlineData(QueueFullMode.DropNewest, "r2", DropReason.DroppedNewest)]
    public async Task FullQueue_DropsByPolicy_AndEveryRequestEndsOnce(QueueFullMode mode, string expectedDropped, DropReason reason)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var pool = Exec.Agents(factory)
            .WithMaxAgents(1)
            .WithQueue(2, mode)
            .OnDropped(dropped.Enqueue)
            .Build();
        await pool.WarmUpAsync(1).WithTimeout();

        var tasks = new Dictionary<string, Task<string>> { ["r0"] = pool.RunAsync("r0").AsTask() };
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        tasks["r1"] = pool.RunAsync("r1").AsTask();
        tasks["r2"] = pool.RunAsync("r2").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 2);
        tasks["r3"] = pool.RunAsync("r3").AsTask();
        if (mode == QueueFullMode.DropNewest)
        {
            tasks["r4"] = pool.RunAsync("r4").AsTask();
        }

        release.SetResult();
        await Task.WhenAll(tasks.Values.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default))).WithTimeout();

        // Reject refuses the newcomer r3; DropOldest evicts r1 for r3; DropNewest evicts r2 for r3, then r3 for r4.
        string[] expectedDrops = mode == QueueFullMode.DropNewest ? ["r2", "r3"] : [expectedDropped];

        foreach (var (id, task) in tasks)
        {
            if (expectedDrops.Contains(id))
            {
                var error = await Assert.ThrowsAsync<ItemDroppedException>(() => task);
                Assert.Equal(reason, error.Reason);
            }
            else
            {
                Assert.Equal(id, await task);
            }
        }

        Assert.Equal(expectedDrops.Order(), dropped.Select(d => (string)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(reason, d.Reason));
        Assert.All(dropped, d => Assert.Equal("AgentPool", d.Component));
        var stats = pool.GetStatistics();
        Assert.Equal(expectedDrops.Length, mode == QueueFullMode.Reject ? stats.Ledger.Rejected : stats.Ledger.Dropped);
        Assert.Equal(tasks.Count - expectedDrops.Length, stats.Ledger.Succeeded);
        Assert.Equal(tasks.Count, stats.Ledger.Submitted);
        Assert.True(stats.Ledger.IsBalanced, stats.ToString());
    }

    [Fact]
    public async Task FullQueue_InWaitMode_CallersWaitForRoom()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).WithQueue(1, QueueFullMode.Wait).Build();
        await pool.WarmUpAsync(1).WithTimeout();

        var tasks = Enumerable.Range(0, 4).Select(i => pool.RunAsync("r" + i).AsTask()).ToArray();
        // One runs, one waits in the queue of one, two wait for room in it: all three count as queued in the ledger.
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics() is { Ledger.InFlight: 1, Ledger.Queued: 3 });
        Assert.All(tasks, t => Assert.False(t.IsCompleted));
        release.SetResult();

        Assert.Equal(["r0", "r1", "r2", "r3"], (await Task.WhenAll(tasks).WithTimeout()).Order());
        Assert.Equal(0, pool.GetStatistics().Ledger.Dropped);
    }

    [Fact]
    public async Task CancellingAQueuedRequest_RemovesIt()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).Build();
        var held = pool.RunAsync("held").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        using var cts = new CancellationTokenSource();
        var queued = pool.RunAsync("queued", cts.Token).AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued).WithTimeout();
        Assert.Equal(0, pool.GetStatistics().Ledger.Queued);
        release.SetResult();
        Assert.Equal("held", await held.WithTimeout());
        Assert.Equal(1, pool.GetStatistics().Ledger.Cancelled);
    }

    [Fact]
    public async Task CrashedAgent_FailsItsRequest_IsRemovedAndReplaced()
    {
        var factory = new RecordingFactory((agent, request, ct) => request == "crash"
            ? ValueTask.FromException<string>(new AgentCrashedException(agent.Id, 3, "boom", null))
            : ValueTask.FromResult(agent.Id));

        // One agent at most: the replacement can only start once the crashed agent is gone. (With room for two, the
        // min-idle top-up while the replacement serves "x" could start a second agent, and the count would race.)
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).WithMinIdle(1).Build();
        var first = await factory.NextCreatedAsync();

        var error = await Assert.ThrowsAsync<AgentCrashedException>(() => pool.RunAsync("crash").AsTask()).WithTimeout();
        Assert.Equal(first.Id, error.AgentId);

        var replacement = await factory.NextCreatedAsync();
        await TestTimeout.WaitUntilAsync(() => first.IsDisposed);
        Assert.Equal(replacement.Id, await pool.RunAsync("x").WithTimeout());
        var stats = pool.GetStatistics();
        Assert.Equal(1, stats.Crashes);
        Assert.Equal(1, stats.Ledger.Failed);
        Assert.Equal(1, stats.Agents);
    }

    [Fact]
    public async Task CrashedRequest_IsRetriedOnAnotherAgent_ThroughThePollyPipeline()
    {
        var factory = new RecordingFactory((agent, request, ct) => agent.Id == "agent-1"
            ? ValueTask.FromException<string>(new AgentCrashedException(agent.Id, 3, "boom", null))
            : ValueTask.FromResult(agent.Id + ":" + request));
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<AgentCrashedException>(),
                MaxRetryAttempts = 2,
                Delay = TimeSpan.Zero,
            })
            .Build();
        await using var pool = Exec.Agents(factory).WithMaxAgents(2).WithResilience(pipeline).Build();

        Assert.Equal("agent-2:job", await pool.RunAsync("job").WithTimeout());
        var stats = pool.GetStatistics();
        Assert.Equal(1, stats.Crashes);
        Assert.Equal(1, stats.Ledger.Succeeded);
        Assert.Equal(0, stats.Ledger.Failed);

        // One request, however many attempts: submitted once, ended once.
        Assert.Equal(1, stats.Ledger.Submitted);
        Assert.True(stats.Ledger.IsBalanced, stats.ToString());
    }

    [Fact]
    public async Task AgentThatDiedWhileIdle_IsReplacedBeforeUse()
    {
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).Build();
        await pool.WarmUpAsync(1).WithTimeout();
        factory.Agents.Single().MarkUnhealthy();

        Assert.Equal("agent-2:x", await pool.RunAsync("x").WithTimeout());
        Assert.Equal(1, pool.GetStatistics().Crashes);
    }

    [Fact]
    public async Task ErrorReply_FailsTheRequest_ButKeepsTheAgent()
    {
        var factory = new RecordingFactory((agent, request, ct) => request == "bad"
            ? ValueTask.FromException<string>(new AgentException(agent.Id, "bad request", null))
            : ValueTask.FromResult(agent.Id));
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).Build();

        await Assert.ThrowsAsync<AgentException>(() => pool.RunAsync("bad").AsTask()).WithTimeout();
        Assert.Equal("agent-1", await pool.RunAsync("x").WithTimeout());
        Assert.Equal(0, pool.GetStatistics().Crashes);
    }

    [Fact]
    public async Task MaxUses_RecyclesAgents()
    {
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithMaxAgents(1).WithMaxUses(2).Build();

        var served = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            served.Add((await pool.RunAsync("x").WithTimeout()).Split(':')[0]);
        }

        Assert.Equal(["agent-1", "agent-1", "agent-2", "agent-2", "agent-3"], served);
        await TestTimeout.WaitUntilAsync(() => factory.Agents.Take(2).All(a => a.IsDisposed));
        Assert.Equal(2, pool.GetStatistics().Recycled);
    }

    [Fact]
    public async Task IdleTimeout_RecyclesIdleAgents_OnTheInjectedClock()
    {
        var time = new FakeTimeProvider();
        var factory = new RecordingFactory();
        await using var pool = Exec.Agents(factory).WithMaxAgents(2).WithIdleTimeout(TimeSpan.FromMinutes(1)).WithTimeProvider(time).Build();
        await pool.WarmUpAsync(2).WithTimeout();

        time.Advance(TimeSpan.FromSeconds(40));
        await pool.RunAsync("keep agent busy recently").WithTimeout();
        time.Advance(TimeSpan.FromSeconds(30));

        // One agent had been idle 70 s, the other served 30 s ago.
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Recycled == 1);
        Assert.Equal(1, pool.GetStatistics().Agents);
        await TestTimeout.WaitUntilAsync(() => factory.Agents.Count(a => a.IsDisposed) == 1);

        time.Advance(TimeSpan.FromMinutes(2));
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Agents == 0);
        Assert.Equal(2, pool.GetStatistics().Recycled);
    }

    [Fact]
    public async Task SpawnFailure_FailsTheWaitingCaller_AndThePoolRecovers()
    {
        var factory = new RecordingFactory { Failure = new InvalidOperationException("model file missing") };
        await using var pool = Exec.Agents(factory).WithMaxAgents(2).Build();

        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => pool.RunAsync("x").AsTask()).WithTimeout();
        Assert.Contains("model file missing", error.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.Equal(1, pool.GetStatistics().SpawnFailures);

        factory.Failure = null;
        Assert.StartsWith("agent-", await pool.RunAsync("x").WithTimeout(), StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => pool.WarmUpAsync(3));
    }

    [Fact]
    public async Task Dispose_DrainsInFlightAndQueued_StopsEveryAgent_AndRefusesLaterCalls()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        var pool = Exec.Agents(factory).WithMaxAgents(2).WithMinIdle(2).Build();
        await pool.WarmUpAsync(2).WithTimeout();
        var tasks = Enumerable.Range(0, 4).Select(i => pool.RunAsync("r" + i).AsTask()).ToArray();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics() is { Ledger.InFlight: 2, Ledger.Queued: 2 });

        var disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RunAsync("late").AsTask());
        release.SetResult();
        await disposing.WithTimeout();
        await pool.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal(["r0", "r1", "r2", "r3"], await Task.WhenAll(tasks).WithTimeout());
        Assert.All(factory.Agents, a => Assert.True(a.IsDisposed));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.WarmUpAsync(1));
    }

    [Fact]
    public async Task DrainTimeout_DropsQueuedRequests_AndCancelsRunningOnes()
    {
        var time = new FakeTimeProvider();
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return request;
        });
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = Exec.Agents(factory)
            .WithMaxAgents(1)
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(5))
            .OnDropped(dropped.Enqueue)
            .Build();
        var running = pool.RunAsync("running").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        var queued = pool.RunAsync("queued").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);

        var disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        await disposing.WithTimeout();

        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => queued)).Reason);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);
        // Both were cut by the drain timeout: the queued one dropped, the running one cancelled; each reported once.
        Assert.Equal(["queued", "running"], dropped.Select(d => (string)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal((2L, 2L, 0L, 0L), (ledger.Submitted, ledger.Dropped, ledger.Failed, ledger.Cancelled));
        Assert.True(factory.Agents.Single().IsDisposed);
    }

    [Fact]
    public async Task Dispose_StopsAgentsStillStarting()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory { Gate = gate.Task };
        var pool = Exec.Agents(factory).WithMaxAgents(2).WithMinIdle(2).Build();
        await TestTimeout.WaitUntilAsync(() => factory.Creating == 2);

        await pool.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal(0, factory.Creating);
        Assert.All(factory.Agents, a => Assert.True(a.IsDisposed));
    }

    [Fact]
    public async Task Dispose_DiscardsSpawnsStillWaitingForTheirTurn()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory { Gate = gate.Task };
        var pool = Exec.Agents(factory).WithMaxAgents(3).WithMaxConcurrentSpawns(1).Build();
        var warmUp = pool.WarmUpAsync(3);
        await TestTimeout.WaitUntilAsync(() => factory.Creating == 1);
        Assert.Equal(3, pool.GetStatistics().Spawning); // one starting, two waiting for their turn

        await pool.DisposeAsync().AsTask().WithTimeout();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => warmUp).WithTimeout();
        Assert.Equal((0, 1), (factory.Creating, factory.Calls)); // the two waiting spawns never called the factory
        Assert.Empty(factory.Agents); // and the running one was cancelled
        Assert.Equal(0, pool.GetStatistics().Spawning);
    }

    [Fact]
    public void InvalidOptions_AreListedInOneException()
    {
        var options = new AgentPoolOptions { MaxAgents = 0, MinIdle = 3, QueueCapacity = -1, IdleTimeout = TimeSpan.Zero, LoadBalancing = (LoadBalancingStrategy)9 };

        var error = Assert.Throws<ArgumentException>(() => new AgentPool<DelegateAgent>(new RecordingFactory(), options));

        Assert.Equal(
            "Invalid AgentPoolOptions: MaxAgents = 0: must be greater than zero; MinIdle = 3: must be between 0 and MaxAgents; QueueCapacity = -1: must be greater than zero; LoadBalancing = 9: must be a defined LoadBalancingStrategy value; IdleTimeout = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan. (Parameter 'MaxAgents')",
            error.Message);
    }

    [Fact]
    public async Task Builder_IsSingleUse_AndOptionsAreCopied()
    {
        var options = new AgentPoolOptions { MaxAgents = 1 };
        await using var pool = new AgentPool<DelegateAgent>(new RecordingFactory(), options);
        options.MaxAgents = 0;
        await pool.WarmUpAsync(1).WithTimeout();

        var builder = Exec.Agents(new RecordingFactory());
        await using var built = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => builder.WithMaxAgents(2));
        Assert.Contains("already built", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Throws<ArgumentNullException>(() => Exec.Agents<DelegateAgent>((IAgentFactory<DelegateAgent>)null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => built.RunAsync(null!).AsTask());
    }

    [Fact]
    public async Task ConcurrentRequests_EachEndExactlyOnce()
    {
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await Task.Yield();
            if (request.EndsWith('7'))
            {
                agent.MarkUnhealthy();
                throw new AgentCrashedException(agent.Id, 1, "crash", null);
            }

            return request;
        });
        await using var pool = Exec.Agents(factory).WithMaxAgents(4).WithMaxConcurrencyPerAgent(2).WithLoadBalancing(LoadBalancingStrategy.PowerOfTwoChoices).Build();

        var ids = Enumerable.Range(0, 300).Select(i => "item-" + i).ToArray();
        var outcomes = await Task.WhenAll(ids.Select(async id =>
        {
            try
            {
                return (id, await pool.RunAsync(id));
            }
            catch (AgentCrashedException)
            {
                return (id, "crashed");
            }
        })).WithTimeout();

        foreach (var (id, outcome) in outcomes)
        {
            Assert.Equal(id.EndsWith('7') ? "crashed" : id, outcome);
        }

        var stats = pool.GetStatistics();
        Assert.Equal(ids.Count(i => !i.EndsWith('7')), stats.Ledger.Succeeded);
        Assert.Equal(ids.Count(i => i.EndsWith('7')), stats.Ledger.Failed);
        Assert.Equal(0, stats.Ledger.InFlight);
        Assert.Equal(0, stats.Ledger.Queued);
    }

}
