using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>A work item that awaits its own pool's DisposeAsync must not wait for itself.</summary>
public class WorkerPoolSelfDisposeTests
{
    private static WorkerPool CreatePool(int workers, TimeProvider? time = null, TimeSpan? drainTimeout = null) =>
        new(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = workers, QueueCapacity = 16, Name = "self-dispose", TimeProvider = time ?? TimeProvider.System,
            DrainTimeout = drainTimeout ?? Timeout.InfiniteTimeSpan,
        });

    [Fact]
    public async Task Item_disposing_its_own_pool_returns_once_everything_else_drained_and_outside_callers_wait_for_it()
    {
        var pool = CreatePool(workers: 2);
        var ended = new ConcurrentDictionary<string, bool>();
        var selfStarted = new Gate();
        var selfGo = new Gate();
        var selfFinish = new Gate();
        var otherStarted = new Gate();
        var releaseOther = new Gate();
        using var openAll = releaseOther.OpenOnDispose();
        using var openSelf = selfFinish.OpenOnDispose();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        string[]? endedWhenDisposeReturned = null;

        var self = pool.RunAsync(async _ =>
        {
            selfStarted.Open();
            await selfGo.WaitAsync();
            var disposing = pool.DisposeAsync().AsTask();
            insideDispose.SetResult(disposing);
            await disposing;
            endedWhenDisposeReturned = [.. ended.Keys.Order()];
            await selfFinish.WaitAsync();
            ended["self"] = true;
        }).AsTask();
        await selfStarted.Task.WithTimeout();
        var other = pool.RunAsync(async _ =>
        {
            otherStarted.Open();
            await releaseOther.WaitAsync();
            ended["other"] = true;
        }).AsTask();
        await otherStarted.Task.WithTimeout();
        var queued = Enumerable.Range(0, 3).Select(i => pool.RunAsync(_ =>
        {
            ended[$"q{i}"] = true;
            return ValueTask.CompletedTask;
        }).AsTask()).ToList();

        selfGo.Open();
        var fromInside = await insideDispose.Task.WithTimeout();
        Assert.False(fromInside.IsCompleted); // "other" still runs and the queue is full: nothing else has drained yet
        Assert.Throws<ObjectDisposedException>(() => pool.RunAsync(_ => ValueTask.CompletedTask));
        Assert.Throws<ObjectDisposedException>(() => pool.TryPost(_ => ValueTask.CompletedTask));
        var fromOutside = pool.DisposeAsync().AsTask();

        releaseOther.Open();
        await fromInside.WithTimeout();
        await TestTimeout.WaitUntilAsync(() => endedWhenDisposeReturned is not null);
        Assert.Equal(["other", "q0", "q1", "q2"], endedWhenDisposeReturned!);
        Assert.False(fromOutside.IsCompleted); // the outside call waits for the item that disposed the pool too

        selfFinish.Open();
        await fromOutside.WithTimeout();
        await self.WithTimeout();
        await other.WithTimeout();
        await Task.WhenAll(queued).WithTimeout();
        Assert.Equal(["other", "q0", "q1", "q2", "self"], ended.Keys.Order());
        var statistics = pool.GetStatistics();
        Assert.Equal(5, statistics.Ledger.Succeeded);
        Assert.Equal(0, statistics.Ledger.Dropped + statistics.Ledger.Failed + statistics.Ledger.Cancelled);
    }

    [Fact]
    public async Task Item_disposing_the_only_worker_returns_at_once_and_the_queue_runs_after_it()
    {
        var pool = CreatePool(workers: 1);
        var order = new ConcurrentQueue<string>();
        var selfStarted = new Gate();
        var selfGo = new Gate();
        var self = pool.RunAsync(async _ =>
        {
            selfStarted.Open();
            await selfGo.WaitAsync();
            await pool.DisposeAsync(); // the queued items need this worker: waiting for them would wait for itself
            order.Enqueue("self");
        }).AsTask();
        await selfStarted.Task.WithTimeout();
        var queued = Enumerable.Range(0, 3).Select(i => pool.RunAsync(_ =>
        {
            order.Enqueue($"q{i}");
            return ValueTask.CompletedTask;
        }).AsTask()).ToList();

        selfGo.Open();
        await self.WithTimeout();
        await Task.WhenAll(queued).WithTimeout();
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(["self", "q0", "q1", "q2"], order);
        Assert.Equal(4, pool.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Two_items_disposing_their_pool_at_once_do_not_wait_for_each_other()
    {
        var pool = CreatePool(workers: 2);
        var bothStarted = new CountdownEvent(2);
        var go = new Gate();
        var items = Enumerable.Range(0, 2).Select(_ => pool.RunAsync(async _ =>
        {
            bothStarted.Signal();
            await go.WaitAsync();
            await pool.DisposeAsync();
            return true;
        }).AsTask()).ToList();
        await TestTimeout.WaitUntilAsync(() => bothStarted.IsSet);

        go.Open();
        var results = await Task.WhenAll(items).WithTimeout();
        Assert.Equal([true, true], results);
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(2, pool.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Nested_inline_item_disposing_its_pool_does_not_wait_for_itself_or_its_parent()
    {
        var pool = CreatePool(workers: 1);
        var parent = pool.RunAsync(async _ =>
        {
            // No idle worker: the nested item runs inline, on the parent's worker and flow.
            return await pool.RunAsync(async _ =>
            {
                await pool.DisposeAsync();
                return 42;
            });
        }).AsTask();

        Assert.Equal(42, await parent.WithTimeout());
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(2, pool.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Drain_timeout_from_inside_drops_the_queue_cancels_the_others_and_releases_the_caller()
    {
        var time = new FakeTimeProvider();
        var pool = CreatePool(workers: 2, time, drainTimeout: TimeSpan.FromSeconds(10));
        var selfStarted = new Gate();
        var selfGo = new Gate();
        var otherStarted = new Gate();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var selfSawCancellation = false;
        var self = pool.RunAsync(async ct =>
        {
            selfStarted.Open();
            await selfGo.WaitAsync();
            var disposing = pool.DisposeAsync().AsTask();
            insideDispose.SetResult(disposing);
            await disposing;
            selfSawCancellation = ct.IsCancellationRequested; // the deadline applies to the caller's token too
        }).AsTask();
        await selfStarted.Task.WithTimeout();
        var other = pool.RunAsync(async ct =>
        {
            otherStarted.Open();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }).AsTask();
        await otherStarted.Task.WithTimeout();
        var queued = Enumerable.Range(0, 2).Select(_ => pool.RunAsync(_ => ValueTask.CompletedTask).AsTask()).ToList();

        selfGo.Open();
        var fromInside = await insideDispose.Task.WithTimeout();
        Assert.False(fromInside.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(10));

        await fromInside.WithTimeout();
        await self.WithTimeout();
        Assert.True(selfSawCancellation);
        var cut = await Assert.ThrowsAsync<ItemDroppedException>(() => other.WithTimeout());
        Assert.Equal(DropReason.DrainTimeout, cut.Reason);
        foreach (var item in queued)
        {
            var dropped = await Assert.ThrowsAsync<ItemDroppedException>(() => item.WithTimeout());
            Assert.Equal(DropReason.DrainTimeout, dropped.Reason);
        }

        await pool.DisposeAsync().WithTimeout();
        var statistics = pool.GetStatistics();
        Assert.Equal((1, 0, 3), (statistics.Ledger.Succeeded, statistics.Ledger.Cancelled, statistics.Ledger.Dropped));
    }

    [Fact]
    public async Task Items_queued_behind_the_callers_key_run_after_it_and_the_others_before_it_returns()
    {
        var pool = CreatePool(workers: 2);
        var ended = new ConcurrentDictionary<string, bool>();
        var selfStarted = new Gate();
        var selfGo = new Gate();
        string[]? endedWhenDisposeReturned = null;
        var self = pool.RunAsync("k", async _ =>
        {
            selfStarted.Open();
            await selfGo.WaitAsync();
            await pool.DisposeAsync();
            endedWhenDisposeReturned = [.. ended.Keys.Order()];
        }).AsTask();
        await selfStarted.Task.WithTimeout();
        var sameKey = pool.RunAsync("k", _ =>
        {
            ended["same-key"] = true;
            return ValueTask.CompletedTask;
        }).AsTask();
        var unkeyed = Enumerable.Range(0, 2).Select(i => pool.RunAsync(_ =>
        {
            ended[$"u{i}"] = true;
            return ValueTask.CompletedTask;
        }).AsTask()).ToList();
        await Task.WhenAll(unkeyed).WithTimeout(); // the second worker runs them; "same-key" waits for the caller's key

        selfGo.Open();
        await self.WithTimeout();
        await sameKey.WithTimeout();
        await pool.DisposeAsync().WithTimeout();
        Assert.Equal(["u0", "u1"], endedWhenDisposeReturned!);
        Assert.Equal(["same-key", "u0", "u1"], ended.Keys.Order());
        Assert.Equal(4, pool.GetStatistics().Ledger.Succeeded);
    }

}
