using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>
/// The shared lifecycle (Complete, Completion, DisposeAsync with the drain timeout) and the per-item reports of
/// fire-and-forget items that did not succeed, checked by item.
/// </summary>
public class WorkerPoolLifecycleTests
{
    private static WorkerPool CreatePool(int workers = 1, int capacity = 16, Action<DroppedItem>? onDropped = null,
        TimeProvider? time = null, TimeSpan? drainTimeout = null, string name = "lifecycle") =>
        new(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = workers,
            QueueCapacity = capacity,
            OnDropped = onDropped,
            TimeProvider = time ?? TimeProvider.System,
            DrainTimeout = drainTimeout ?? Timeout.InfiniteTimeSpan,
            Name = name,
        });

    /// <summary>Runs an item that holds the pool's only worker until <paramref name="release"/> opens; returns once it runs.</summary>
    private static async Task<Task<int>> HoldTheWorkerAsync(WorkerPool pool, Gate release)
    {
        var started = new Gate();
        var running = pool.RunAsync(async _ =>
        {
            started.Open();
            await release.WaitAsync();
            return 1;
        }).AsTask();
        await started.Task.WithTimeout();
        return running;
    }

    [Fact]
    public async Task CompleteStopsIntakeLetsAcceptedItemsRunAndCompletionEndsAfterThem()
    {
        await using var pool = CreatePool(workers: 1, capacity: 4, name: "complete");
        var release = new Gate();
        using var opener = release.OpenOnDispose();
        var running = await HoldTheWorkerAsync(pool, release);
        var queued = pool.RunAsync(_ => ValueTask.FromResult(2)).AsTask();

        pool.Complete();
        pool.Complete(); // idempotent

        var error = Assert.Throws<InvalidOperationException>(() => pool.TryPost(_ => ValueTask.CompletedTask));
        Assert.IsNotType<ObjectDisposedException>(error);
        Assert.Contains("'complete'", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => pool.RunAsync(_ => ValueTask.CompletedTask));
        Assert.False(pool.Completion.IsCompleted);

        release.Open();
        Assert.Equal((1, 2), (await running.WithTimeout(), await queued.WithTimeout()));
        await pool.Completion.WithTimeout();
        var stats = pool.GetStatistics();
        Assert.Equal((2L, 2L, 0L, 0L), (stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Queued, stats.Ledger.InFlight));
        Assert.True(stats.Ledger.IsBalanced);
    }

    [Fact]
    public async Task CompleteRefusesSubmittersStillWaitingForRoom()
    {
        await using var pool = CreatePool(workers: 1, capacity: 1, name: "complete-waiting");
        var release = new Gate();
        using var opener = release.OpenOnDispose();
        var running = await HoldTheWorkerAsync(pool, release);
        var queued = pool.RunAsync(_ => ValueTask.CompletedTask).AsTask();
        var waiting = pool.PostAsync(_ => ValueTask.CompletedTask).AsTask();
        Assert.Equal(1, pool.GetStatistics().Waiting);

        pool.Complete();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => waiting).WithTimeout();
        Assert.IsNotType<ObjectDisposedException>(error);
        release.Open();
        await Task.WhenAll(running, queued).WithTimeout();
        await pool.Completion.WithTimeout();
        Assert.Equal((3L, 2L, 1L), (pool.GetStatistics().Ledger.Submitted, pool.GetStatistics().Ledger.Succeeded, pool.GetStatistics().Ledger.Cancelled));
    }

    [Fact]
    public async Task CompletionOfAnIdlePoolEndsAtCompleteAndDisposalAfterwardsThrowsObjectDisposed()
    {
        var pool = CreatePool(name: "idle");
        Assert.False(pool.Completion.IsCompleted);
        pool.Complete();
        await pool.Completion.WithTimeout();

        await pool.DisposeAsync();
        var error = Assert.Throws<ObjectDisposedException>(() => pool.TryPost(_ => ValueTask.CompletedTask));
        Assert.Contains("'idle' was disposed", error.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => pool.SetMaxDegreeOfParallelism(2));
    }

    [Fact]
    public async Task DisposeAsyncAsAnExecComponentDrainsAndCompletes()
    {
        IExecComponent component = CreatePool(workers: 2, name: "component");
        var pool = (WorkerPool)component;
        var results = Enumerable.Range(0, 10).Select(i => pool.RunAsync(_ => ValueTask.FromResult(i)).AsTask()).ToList();

        await component.DisposeAsync().AsTask().WithTimeout();

        Assert.True(component.Completion.IsCompletedSuccessfully);
        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(results));
        var stats = Assert.IsType<WorkerPoolStatistics>(component.GetStatistics());
        Assert.Equal(("component", 10L), (stats.Name, stats.Ledger.Succeeded));
    }

    [Fact]
    public async Task APostedItemCutByTheDrainTimeoutIsReportedAndCountedAsDropped()
    {
        var time = new FakeTimeProvider();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = CreatePool(workers: 1, onDropped: dropped.Enqueue, time: time, drainTimeout: TimeSpan.FromSeconds(2), name: "cut");
        var started = new Gate();
        Func<CancellationToken, ValueTask> hang = async ct =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
        };
        Func<CancellationToken, ValueTask> queued = _ => ValueTask.CompletedTask;
        Assert.Equal(PostResult.Accepted, pool.TryPost("running-key", hang));
        await started.Task.WithTimeout();
        Assert.Equal(PostResult.Accepted, pool.TryPost(queued));

        var disposing = pool.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(2));
        await disposing.WithTimeout();

        Assert.Equal(2, dropped.Count);
        var byItem = dropped.ToDictionary(d => d.Item!);
        Assert.Equal((DropReason.DrainTimeout, (object?)"running-key", "cut"), (byItem[hang].Reason, byItem[hang].Key, byItem[hang].Component));
        Assert.Equal((DropReason.DrainTimeout, (object?)null), (byItem[queued].Reason, byItem[queued].Key));
        Assert.Equal(time.GetUtcNow(), byItem[queued].Timestamp);
        var stats = pool.GetStatistics();
        Assert.Equal((2L, 2L, 0L), (stats.Ledger.Submitted, stats.Ledger.Dropped, stats.Ledger.Cancelled));
        Assert.True(stats.Ledger.IsBalanced);
    }

    [Fact]
    public async Task APostedItemCancelledWhileQueuedOrRunningIsReportedOnceAsCancelled()
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var pool = CreatePool(workers: 1, onDropped: dropped.Enqueue, name: "cancelled");
        using var runningCts = new CancellationTokenSource();
        using var queuedCts = new CancellationTokenSource();
        var started = new Gate();
        var ranQueued = false;
        Func<CancellationToken, ValueTask> running = async ct =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
        };
        Func<CancellationToken, ValueTask> queued = _ =>
        {
            ranQueued = true;
            return ValueTask.CompletedTask;
        };
        Assert.Equal(PostResult.Accepted, await pool.PostAsync(running, runningCts.Token).WithTimeout());
        await started.Task.WithTimeout();
        Assert.Equal(PostResult.Accepted, await pool.PostAsync("q", queued, queuedCts.Token).WithTimeout());

        await queuedCts.CancelAsync();
        var report = Assert.Single(dropped);
        Assert.Equal((DropReason.Cancelled, (object)queued, (object?)"q"), (report.Reason, report.Item!, report.Key));

        await runningCts.CancelAsync();
        await TestTimeout.WaitUntilAsync(() => dropped.Count == 2);
        Assert.Equal([queued, running], dropped.Select(d => d.Item));
        Assert.All(dropped, d => Assert.Equal(DropReason.Cancelled, d.Reason));
        Assert.False(ranQueued);
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 0);
        var stats = pool.GetStatistics();
        Assert.Equal((2L, 2L, 0L), (stats.Ledger.Submitted, stats.Ledger.Cancelled, stats.Ledger.Dropped));
    }
}
