using System.Collections.Concurrent;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>The shared lifecycle on the agent pool: Complete, Completion, the drain timeout's reports, cancellation in the ledger.</summary>
public sealed class AgentPoolLifecycleTests
{
    private static RecordingFactory HeldFactory(TaskCompletionSource release) => new(async (agent, request, ct) =>
    {
        await release.Task.WaitAsync(ct);
        return request;
    });

    [Fact]
    public async Task Complete_stops_intake_and_Completion_ends_when_the_accepted_requests_have_ended()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = HeldFactory(release);
        var pool = Exec.Agents(factory).WithMaxAgents(1).Build();
        var running = pool.RunAsync("running").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        var queued = pool.RunAsync("queued").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);

        pool.Complete();
        pool.Complete();

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.RunAsync("late").AsTask());
        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.WarmUpAsync(1));
        Assert.False(pool.Completion.IsCompleted);
        release.SetResult();
        Assert.Equal(["running", "queued"], await Task.WhenAll(running, queued).WithTimeout());
        await pool.Completion.WithTimeout();
        Assert.False(factory.Agents.Single().IsDisposed); // Complete stops intake, not the agents

        await pool.DisposeAsync().WithTimeout();
        Assert.True(factory.Agents.Single().IsDisposed);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.RunAsync("later").AsTask());
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal((2L, 2L), (ledger.Submitted, ledger.Succeeded));
        Assert.True(ledger.IsBalanced);
    }

    [Fact]
    public async Task A_zero_drain_timeout_cuts_everything_at_once_and_reports_each_request_with_its_item_and_key()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = Exec.Agents(HeldFactory(release)).WithName("drained").WithMaxAgents(1).WithDrainTimeout(TimeSpan.Zero).OnDropped(dropped.Enqueue).Build();
        var running = pool.RunWithAffinityAsync("session", "running").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        var queued = pool.RunAsync("queued").AsTask();
        Func<DelegateAgent, CancellationToken, ValueTask<string>> operation = (agent, ct) => agent.SendAsync("operation", ct);
        var executed = pool.ExecuteAsync(operation, affinityKey: "other").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 2);

        await pool.DisposeAsync().WithTimeout();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WithTimeout();
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => queued).WithTimeout()).Reason);
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => executed).WithTimeout()).Reason);
        Assert.Equal(3, dropped.Count);
        Assert.All(dropped, d => Assert.Equal((DropReason.DrainTimeout, "drained"), (d.Reason, d.Component)));
        Assert.Equal("session", dropped.Single(d => Equals(d.Item, "running")).Key);
        Assert.Null(dropped.Single(d => Equals(d.Item, "queued")).Key);
        Assert.Equal("other", dropped.Single(d => ReferenceEquals(d.Item, operation)).Key);
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal((3L, 3L, 0L, 0L), (ledger.Submitted, ledger.Dropped, ledger.InFlight, ledger.Queued));
        Assert.True(ledger.IsBalanced);
        await pool.Completion.WithTimeout();
    }

    [Fact]
    public async Task Requests_cancelled_while_queued_end_cancelled_at_their_callers_and_in_the_ledger_by_id()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var pool = Exec.Agents(HeldFactory(release)).WithMaxAgents(1).WithQueue(2, QueueFullMode.Wait).OnDropped(dropped.Enqueue).Build();
        var running = pool.RunAsync("running").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);

        // Two in the queue and two waiting for room in it; cancel one of each.
        var sources = Enumerable.Range(0, 4).Select(_ => new CancellationTokenSource()).ToArray();
        var requests = Enumerable.Range(0, 4).Select(i => pool.RunAsync("q" + i, sources[i].Token).AsTask()).ToArray();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 4);
        await sources[1].CancelAsync();
        await sources[3].CancelAsync();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 2);

        using var preCancelled = new CancellationTokenSource();
        await preCancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pool.RunAsync("never", preCancelled.Token).AsTask());
        release.SetResult();

        Assert.Equal("running", await running.WithTimeout());
        for (var i = 0; i < requests.Length; i++)
        {
            if (i % 2 == 1)
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => requests[i]).WithTimeout();
            }
            else
            {
                Assert.Equal("q" + i, await requests[i].WithTimeout());
            }
        }

        Assert.Empty(dropped); // awaited requests: their callers get the cancellation, OnDropped is for drops
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal((6L, 3L, 3L, 0L), (ledger.Submitted, ledger.Succeeded, ledger.Cancelled, ledger.Queued));
        Assert.True(ledger.IsBalanced);
        Array.ForEach(sources, s => s.Dispose());
    }

    [Fact]
    public async Task The_pool_is_an_IExecComponent_named_AgentPool_by_default()
    {
        IExecComponent component = Exec.Agents(new RecordingFactory()).Build();
        await using (component)
        {
            Assert.Equal("AgentPool", component.Name);
            var statistics = Assert.IsType<AgentPoolStatistics>(component.GetStatistics());
            Assert.Equal("AgentPool", statistics.Name);
            Assert.True(statistics.Ledger.IsBalanced);
        }

        await component.Completion.WithTimeout();
    }
}
