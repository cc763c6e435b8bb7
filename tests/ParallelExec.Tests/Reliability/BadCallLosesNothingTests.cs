using ParallelExec.Agents;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// A bad call on a running component is refused without touching what the component already accepted: items running
/// and queued when the bad calls arrive all complete with their own results, and the component's ledger shows no drop
/// and no failure.
/// </summary>
public sealed class BadCallLosesNothingTests
{
    private const int Accepted = 10;

    [Fact]
    public async Task WorkerPool_keeps_its_running_queued_and_posted_items()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int posted = 0;
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).WithQueue(32, QueueFullMode.Reject).Build();
        var calls = Enumerable.Range(0, Accepted).Select(id => pool.RunAsync(async _ => { await gate.Task; return id; }).AsTask()).ToArray();
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(PostResult.Accepted, pool.TryPost(async _ => { await gate.Task; Interlocked.Increment(ref posted); }));
        }

        await RefusedAsync<ArgumentNullException>("work", () => pool.RunAsync((Func<CancellationToken, ValueTask<int>>)null!).AsTask());
        Assert.Throws<ArgumentNullException>("work", () => pool.TryPost(null!));
        Assert.Throws<ArgumentNullException>("key", () => pool.TryPost(null!, _ => ValueTask.CompletedTask));
        Assert.Throws<ArgumentOutOfRangeException>("maxDegreeOfParallelism", () => pool.SetMaxDegreeOfParallelism(0));
        Assert.Equal(Accepted + 4, pool.GetStatistics().Ledger.Submitted);

        gate.SetResult();
        Assert.Equal(Enumerable.Range(0, Accepted), await Task.WhenAll(calls).WithTimeout());
        pool.Complete();
        await pool.Completion.WithTimeout();
        Assert.Equal(4, posted);
        Assert.Equal(new LedgerSnapshot { Submitted = Accepted + 4, Succeeded = Accepted + 4 }, pool.GetStatistics().Ledger);
    }

    [Fact]
    public async Task BatchProcessor_keeps_its_pending_items()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var processor = Exec.Batch<int, int>(async (items, _) =>
            {
                await gate.Task;
                return items.Select(i => i * 2).ToArray();
            })
            .WithMaxBatchSize(3)
            .WithMaxDelay(TimeSpan.FromMilliseconds(1))
            .Build();
        var calls = Enumerable.Range(0, Accepted).Select(id => processor.SubmitAsync(id).AsTask()).ToArray();

        await RefusedAsync<ArgumentNullException>("items", () => processor.SubmitManyAsync(null!).AsTask());

        gate.SetResult();
        Assert.Equal(Enumerable.Range(0, Accepted).Select(i => i * 2), await Task.WhenAll(calls).WithTimeout());
        Assert.Equal(new LedgerSnapshot { Submitted = Accepted, Succeeded = Accepted }, processor.GetStatistics().Ledger);
    }

    [Fact]
    public async Task CoordinationBus_keeps_its_queued_messages()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new System.Collections.Concurrent.ConcurrentBag<int>();
        await using var bus = Exec.Bus().WithQueue(32, QueueFullMode.Reject).Build();
        using Subscription subscription = bus.Subscribe<int>("items", async (message, _) =>
        {
            await gate.Task;
            handled.Add(message.Message);
        });
        for (int id = 0; id < Accepted; id++)
        {
            Assert.Equal(1, (await bus.PublishAsync("items", id)).Accepted);
        }

        await RefusedAsync<ArgumentNullException>("topic", () => bus.PublishAsync<int>(null!, 1).AsTask());
        await RefusedAsync<ArgumentException>("topic", () => bus.PublishAsync("items.*", 1).AsTask());
        Assert.Throws<ArgumentNullException>("pattern", () => bus.Subscribe<int>(null!, _ => { }));
        Assert.Throws<ArgumentException>("MaxDegreeOfParallelism", () => bus.Subscribe<int>("items", _ => { }, new SubscriptionOptions { MaxDegreeOfParallelism = 0 }));

        gate.SetResult();
        await TestTimeout.WaitUntilAsync(() => handled.Count == Accepted);
        Assert.Equal(Enumerable.Range(0, Accepted), handled.Order());
        Assert.Equal(new LedgerSnapshot { Submitted = Accepted, Succeeded = Accepted }, subscription.Ledger);
    }

    [Fact]
    public async Task AgentPool_keeps_its_running_and_queued_requests()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var pool = Exec.Agents<DelegateAgent>((spec, _) =>
                ValueTask.FromResult(new DelegateAgent(spec.Name, async (request, _) => { await gate.Task; return "re:" + request; })))
            .WithMaxAgents(2)
            .WithQueue(32, QueueFullMode.Reject)
            .Build();
        var calls = Enumerable.Range(0, Accepted).Select(id => pool.RunAsync(id.ToString(System.Globalization.CultureInfo.InvariantCulture)).AsTask()).ToArray();

        await RefusedAsync<ArgumentNullException>("request", () => pool.RunAsync(null!).AsTask());
        await RefusedAsync<ArgumentOutOfRangeException>("agentCount", () => pool.WarmUpAsync(-1));

        gate.SetResult();
        Assert.Equal(Enumerable.Range(0, Accepted).Select(i => $"re:{i}"), await Task.WhenAll(calls).WithTimeout());
        Assert.Equal(new LedgerSnapshot { Submitted = Accepted, Succeeded = Accepted }, pool.GetStatistics().Ledger);
    }

    [Fact]
    public async Task HttpGate_keeps_its_running_and_waiting_calls()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var http = Exec.Http().AddProvider("a", new ProviderLimits { WeightLimit = 100 }).WithMaxDegreeOfParallelism(2).Build();
        var calls = Enumerable.Range(0, Accepted).Select(id => http.RunAsync("a", async _ => { await gate.Task; return id; })).ToArray();

        await RefusedAsync<ArgumentOutOfRangeException>("weight", () => http.RunAsync("a", _ => ValueTask.FromResult(0), weight: -1));
        await RefusedAsync<ArgumentOutOfRangeException>("weight", () => http.RunAsync("a", _ => ValueTask.FromResult(0), weight: 101));
        await RefusedAsync<ArgumentNullException>("provider", () => http.RunAsync<int>(null!, _ => ValueTask.FromResult(0)));

        gate.SetResult();
        Assert.Equal(Enumerable.Range(0, Accepted), await Task.WhenAll(calls).WithTimeout());
        Assert.Equal(new LedgerSnapshot { Submitted = Accepted, Succeeded = Accepted }, http.GetStatistics().Ledger);
    }

    /// <summary>Asserts the call is refused with <typeparamref name="T"/> naming <paramref name="parameter"/>, thrown at once or from the returned task.</summary>
    private static Task RefusedAsync<T>(string parameter, Func<Task> call)
        where T : ArgumentException =>
        Assert.ThrowsAsync<T>(parameter, async () => await call());
}
