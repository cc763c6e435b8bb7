using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Workers;

public class WorkerPoolTests
{
    private static WorkerPool CreatePool(int workers = 1, int capacity = 16, QueueFullMode mode = QueueFullMode.Wait,
        Action<DroppedItem>? onDropped = null, Action<FailedItem>? onError = null, TimeProvider? time = null, TimeSpan? drainTimeout = null) =>
        new(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = workers,
            QueueCapacity = capacity,
            FullMode = mode,
            OnDropped = onDropped,
            OnError = onError,
            TimeProvider = time ?? TimeProvider.System,
            DrainTimeout = drainTimeout ?? Timeout.InfiniteTimeSpan,
            Name = "test",
        });

    /// <summary>Occupies every worker of <paramref name="pool"/> until the returned gate opens.</summary>
    private static async Task<(Gate Release, List<Task> Running)> BlockWorkersAsync(WorkerPool pool, int workers)
    {
        var release = new Gate();
        var running = new List<Task>();
        for (var i = 0; i < workers; i++)
        {
            var started = new Gate();
            running.Add(pool.RunAsync(async ct =>
            {
                started.Open();
                await release.WaitAsync(CancellationToken.None);
            }).AsTask());
            await started.Task.WithTimeout();
        }

        return (release, running);
    }

    [Fact]
    public async Task RunAsyncReturnsTheResultAndTheException()
    {
        await using var pool = CreatePool(workers: 2);

        Assert.Equal(42, await pool.RunAsync(_ => ValueTask.FromResult(42)).WithTimeout());
        Assert.Equal("late", await pool.RunAsync(async ct => { await Task.Yield(); return "late"; }).WithTimeout());
        var ran = false;
        await pool.RunAsync(_ => { ran = true; return ValueTask.CompletedTask; }).WithTimeout();
        Assert.True(ran);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => pool.RunAsync<int>(_ => throw new InvalidOperationException("boom 7")).WithTimeout());
        Assert.Equal("boom 7", error.Message);

        var stats = pool.GetStatistics();
        Assert.Equal(4, stats.Ledger.Submitted);
        Assert.Equal(3, stats.Ledger.Succeeded);
        Assert.Equal(1, stats.Ledger.Failed);
    }

    [Fact]
    public async Task NullWorkIsRejectedWithItsParameterName()
    {
        await using var pool = CreatePool();
        Assert.Equal("work", Assert.Throws<ArgumentNullException>(() => pool.RunAsync<int>(null!)).ParamName);
        Assert.Equal("work", Assert.Throws<ArgumentNullException>(() => pool.TryPost(null!)).ParamName);
        Assert.Equal("key", Assert.Throws<ArgumentNullException>(() => pool.RunAsync(null!, _ => ValueTask.CompletedTask)).ParamName);
        Assert.Equal("maxDegreeOfParallelism", Assert.Throws<ArgumentOutOfRangeException>(() => pool.SetMaxDegreeOfParallelism(0)).ParamName);
    }

    [Fact]
    public async Task NeverRunsMoreThanMaxDegreeOfParallelismAtOnce()
    {
        await using var pool = CreatePool(workers: 3, capacity: 100);
        var current = 0;
        var peak = 0;
        var tasks = Enumerable.Range(0, 60).Select(_ => pool.RunAsync(async ct =>
        {
            var now = Interlocked.Increment(ref current);
            InterlockedMax(ref peak, now);
            await Task.Yield();
            Interlocked.Decrement(ref current);
        }).AsTask()).ToList();

        await Task.WhenAll(tasks).WithTimeout();
        Assert.InRange(peak, 1, 3);
    }

    [Fact]
    public async Task WaitModeMakesTheSubmitterWaitForRoom()
    {
        await using var pool = CreatePool(workers: 1, capacity: 2);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var order = new ConcurrentQueue<int>();

        var queued = Enumerable.Range(1, 2).Select(i => pool.RunAsync(_ => { order.Enqueue(i); return ValueTask.CompletedTask; }).AsTask()).ToList();
        var waiting = pool.RunAsync(_ => { order.Enqueue(3); return ValueTask.CompletedTask; }).AsTask();
        var posted = pool.PostAsync(_ => { order.Enqueue(4); return ValueTask.CompletedTask; }).AsTask();

        var stats = pool.GetStatistics();
        // The ledger's queue counts the waiting submitters too.
        Assert.Equal((4L, 2, 1L), (stats.Ledger.Queued, stats.Waiting, stats.Ledger.InFlight));
        Assert.False(waiting.IsCompleted);
        Assert.False(posted.IsCompleted);
        Assert.Equal(PostResult.QueueFull, pool.TryPost(_ => ValueTask.CompletedTask));

        release.Open();
        await Task.WhenAll(running.Concat(queued).Append(waiting)).WithTimeout();
        Assert.Equal(PostResult.Accepted, await posted.WithTimeout());
        await pool.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal([1, 2, 3, 4], order);
        Assert.Equal(2, pool.GetStatistics().PeakQueueLength);
        Assert.Equal(5, pool.GetStatistics().Ledger.Submitted); // TryPost's QueueFull took nothing
    }

    [Fact]
    public async Task RejectModeRefusesAndReportsTheItem()
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var pool = CreatePool(workers: 1, capacity: 1, mode: QueueFullMode.Reject, onDropped: dropped.Enqueue);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var queued = pool.RunAsync(_ => ValueTask.FromResult(1)).AsTask();

        Func<CancellationToken, ValueTask<int>> refusedWork = _ => ValueTask.FromResult(2);
        var refused = await Assert.ThrowsAsync<ItemDroppedException>(() => pool.RunAsync(refusedWork).AsTask()).WithTimeout();
        Func<CancellationToken, ValueTask> postedWork = _ => ValueTask.CompletedTask;
        Assert.Equal(PostResult.Rejected, pool.TryPost(postedWork));
        Assert.Equal(PostResult.Rejected, await pool.PostAsync(postedWork).WithTimeout());

        Assert.Equal(DropReason.Rejected, refused.Reason);
        Assert.Equal([refusedWork, postedWork, postedWork], dropped.Select(d => d.Item));
        Assert.All(dropped, d => Assert.Equal(DropReason.Rejected, d.Reason));
        release.Open();
        Assert.Equal(1, await queued.WithTimeout());
        await Task.WhenAll(running).WithTimeout();
        Assert.Equal(3, pool.GetStatistics().Ledger.Rejected);
    }

    [Theory]
    [InlineData(QueueFullMode.DropOldest, DropReason.DroppedOldest, 1)]
    [InlineData(QueueFullMode.DropNewest, DropReason.DroppedNewest, 2)]
    public async Task DropModesEvictAQueuedItemAndTellItsCaller(QueueFullMode mode, DropReason reason, int evicted)
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var pool = CreatePool(workers: 1, capacity: 2, mode: mode, onDropped: dropped.Enqueue);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var ran = new ConcurrentQueue<int>();
        Func<CancellationToken, ValueTask<int>> Work(int id) => _ => { ran.Enqueue(id); return ValueTask.FromResult(id); };
        var works = Enumerable.Range(1, 2).Select(Work).ToList();
        var first = pool.RunAsync(works[0]).AsTask();
        var second = pool.RunAsync(works[1]).AsTask();

        Assert.Equal(PostResult.AcceptedAfterDrop, await pool.PostAsync(_ => { ran.Enqueue(3); return ValueTask.CompletedTask; }).WithTimeout());

        var victim = evicted == 1 ? first : second;
        var error = await Assert.ThrowsAsync<ItemDroppedException>(() => victim).WithTimeout();
        Assert.Equal(reason, error.Reason);
        var report = Assert.Single(dropped);
        Assert.Equal(reason, report.Reason);
        Assert.Same(works[evicted - 1], report.Item);

        release.Open();
        await Task.WhenAll(running.Append(evicted == 1 ? second : first)).WithTimeout();
        await pool.DisposeAsync().AsTask().WithTimeout();
        Assert.Equal(evicted == 1 ? [2, 3] : new[] { 1, 3 }, ran);
        var stats = pool.GetStatistics();
        Assert.Equal(1, stats.Ledger.Dropped);
        Assert.Equal(stats.Ledger.Submitted, stats.Ledger.Succeeded + stats.Ledger.Dropped);
    }

    [Fact]
    public async Task PostedFailuresGoToTheErrorHandler()
    {
        var failures = new ConcurrentQueue<FailedItem>();
        var handled = new Gate();
        await using var pool = CreatePool(workers: 2, onError: f => { failures.Enqueue(f); handled.Open(); });
        Func<CancellationToken, ValueTask> work = _ => throw new InvalidOperationException("posted 9");

        Assert.Equal(PostResult.Accepted, pool.TryPost("k", work));
        await handled.Task.WithTimeout();

        var failure = Assert.Single(failures);
        Assert.Equal("posted 9", failure.Exception.Message);
        Assert.Same(work, failure.Item);
        Assert.Equal("k", failure.Key);
        Assert.Equal(1, pool.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public async Task CancellingAQueuedItemRemovesItAndFreesItsSlot()
    {
        await using var pool = CreatePool(workers: 1, capacity: 1);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        using var cts = new CancellationTokenSource();
        var ranCancelled = false;
        var queued = pool.RunAsync(_ => { ranCancelled = true; return ValueTask.FromResult(0); }, cts.Token).AsTask();
        var waiting = pool.RunAsync(_ => ValueTask.FromResult(5)).AsTask();
        Assert.Equal((2L, 1), (pool.GetStatistics().Ledger.Queued, pool.GetStatistics().Waiting));

        await cts.CancelAsync();

        // At once, while the only worker is still busy: the item left the queue, the waiting submission took the freed
        // slot, and the caller completes as cancelled.
        var stats = pool.GetStatistics();
        Assert.Equal((1L, 0, 1L), (stats.Ledger.Queued, stats.Waiting, stats.Ledger.Cancelled));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued).WithTimeout();
        Assert.True(queued.IsCanceled);
        Assert.Equal(1, pool.GetStatistics().Ledger.InFlight);
        release.Open();
        Assert.Equal(5, await waiting.WithTimeout());
        await Task.WhenAll(running).WithTimeout();
        Assert.False(ranCancelled);
    }

    [Fact]
    public async Task CancellingAWaitingSubmissionEndsIt()
    {
        await using var pool = CreatePool(workers: 1, capacity: 1);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var queued = pool.RunAsync(_ => ValueTask.CompletedTask).AsTask();
        using var cts = new CancellationTokenSource();
        var waitingRun = pool.RunAsync(_ => ValueTask.CompletedTask, cts.Token).AsTask();
        var waitingPost = pool.PostAsync(_ => ValueTask.CompletedTask, cts.Token).AsTask();
        Assert.Equal(2, pool.GetStatistics().Waiting);

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waitingRun).WithTimeout();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waitingPost).WithTimeout();
        Assert.Equal(0, pool.GetStatistics().Waiting);
        release.Open();
        await Task.WhenAll(running.Append(queued)).WithTimeout();
    }

    [Fact]
    public async Task CancellingARunningItemReachesItsToken()
    {
        await using var pool = CreatePool(workers: 1);
        using var cts = new CancellationTokenSource();
        var started = new Gate();
        var task = pool.RunAsync(async ct =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
            return 1;
        }, cts.Token).AsTask();
        await started.Task.WithTimeout();

        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => task).WithTimeout();
        Assert.True(task.IsCanceled);
        Assert.Equal(1, pool.GetStatistics().Ledger.Cancelled);
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenCompletesAtOnce()
    {
        await using var pool = CreatePool();
        var ran = false;
        var task = pool.RunAsync(_ => { ran = true; return ValueTask.CompletedTask; }, new CancellationToken(true));
        Assert.True(task.IsCanceled);
        Assert.True(pool.PostAsync(_ => ValueTask.CompletedTask, new CancellationToken(true)).IsCanceled);
        await pool.DisposeAsync();
        Assert.False(ran);
    }

    [Fact]
    public async Task SameKeyRunsOneAtATimeInOrderWhileOtherKeysRunInParallel()
    {
        await using var pool = CreatePool(workers: 4, capacity: 200);
        var log = new ConcurrentDictionary<string, ConcurrentQueue<int>>();
        var running = new ConcurrentDictionary<string, int>();
        var overlapped = false;
        var keysAtOnce = 0;
        var peakKeys = 0;
        var tasks = new List<Task>();
        for (var i = 0; i < 40; i++)
        {
            foreach (var key in new[] { "a", "b", "c" })
            {
                var n = i;
                tasks.Add(pool.RunAsync(key, async ct =>
                {
                    if (running.AddOrUpdate(key, 1, (_, v) => v + 1) > 1)
                    {
                        overlapped = true;
                    }

                    InterlockedMax(ref peakKeys, Interlocked.Increment(ref keysAtOnce));
                    await Task.Yield();
                    log.GetOrAdd(key, _ => new()).Enqueue(n);
                    Interlocked.Decrement(ref keysAtOnce);
                    running.AddOrUpdate(key, 0, (_, v) => v - 1);
                }).AsTask());
            }
        }

        await Task.WhenAll(tasks).WithTimeout();
        Assert.False(overlapped);
        foreach (var key in new[] { "a", "b", "c" })
        {
            Assert.Equal(Enumerable.Range(0, 40), log[key]);
        }

        Assert.InRange(peakKeys, 1, 3);
    }

    [Fact]
    public async Task DifferentKeysDoRunAtTheSameTime()
    {
        await using var pool = CreatePool(workers: 2);
        var release = new Gate();
        var aStarted = new Gate();
        var bStarted = new Gate();
        var a = pool.RunAsync("a", async ct => { aStarted.Open(); await release.WaitAsync(); }).AsTask();
        var a2 = pool.RunAsync("a", _ => ValueTask.CompletedTask).AsTask();
        var b = pool.RunAsync("b", async ct => { bStarted.Open(); await release.WaitAsync(); }).AsTask();

        await Task.WhenAll(aStarted.Task, bStarted.Task).WithTimeout();
        Assert.False(a2.IsCompleted);
        Assert.Equal(1, pool.GetStatistics().Ledger.Queued);
        release.Open();
        await Task.WhenAll(a, a2, b).WithTimeout();
    }

    [Fact]
    public async Task MaxDegreeOfParallelismChangesWhileRunning()
    {
        await using var pool = CreatePool(workers: 1, capacity: 100);
        var release = new Gate();
        var current = 0;
        var started = new SemaphoreSlim(0);
        var tasks = Enumerable.Range(0, 6).Select(_ => pool.RunAsync(async ct =>
        {
            Interlocked.Increment(ref current);
            started.Release();
            await release.WaitAsync();
            Interlocked.Decrement(ref current);
        }).AsTask()).ToList();
        Assert.True(await started.WaitAsync(TestTimeout.Unexpected));
        Assert.Equal(1, Volatile.Read(ref current));

        pool.SetMaxDegreeOfParallelism(4);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await started.WaitAsync(TestTimeout.Unexpected));
        }

        Assert.Equal(4, Volatile.Read(ref current));
        Assert.Equal(4, pool.MaxDegreeOfParallelism);

        pool.SetMaxDegreeOfParallelism(1);
        release.Open();
        await Task.WhenAll(tasks).WithTimeout();
        Assert.Equal(1, pool.GetStatistics().MaxDegreeOfParallelism);

        // After shrinking, one item at a time again.
        var peak = 0;
        current = 0;
        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => pool.RunAsync(async ct =>
        {
            InterlockedMax(ref peak, Interlocked.Increment(ref current));
            await Task.Yield();
            Interlocked.Decrement(ref current);
        }).AsTask())).WithTimeout();
        Assert.Equal(1, peak);
    }

    [Fact]
    public async Task DisposeDrainsQueuedAndRunningItemsThenRefusesNewOnes()
    {
        var pool = CreatePool(workers: 1, capacity: 10);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var ran = new ConcurrentQueue<int>();
        var queued = Enumerable.Range(0, 5).Select(i => pool.RunAsync(_ => { ran.Enqueue(i); return ValueTask.CompletedTask; }).AsTask()).ToList();

        var disposing = pool.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        Assert.Throws<ObjectDisposedException>(() => pool.RunAsync(_ => ValueTask.CompletedTask));
        Assert.Throws<ObjectDisposedException>(() => pool.TryPost(_ => ValueTask.CompletedTask));

        release.Open();
        await disposing.WithTimeout();
        await Task.WhenAll(running.Concat(queued)).WithTimeout();
        Assert.Equal(Enumerable.Range(0, 5), ran);
        await pool.DisposeAsync().AsTask().WithTimeout(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => pool.PostAsync(_ => ValueTask.CompletedTask));
        Assert.Throws<ObjectDisposedException>(() => pool.SetMaxDegreeOfParallelism(2));
    }

    [Fact]
    public async Task DisposeRefusesSubmissionsStillWaitingForRoom()
    {
        var pool = CreatePool(workers: 1, capacity: 1);
        var (release, running) = await BlockWorkersAsync(pool, 1);
        using var opener = release.OpenOnDispose();
        var queued = pool.RunAsync(_ => ValueTask.CompletedTask).AsTask();
        var waiting = pool.RunAsync(_ => ValueTask.CompletedTask).AsTask();
        var waitingPost = pool.PostAsync(_ => ValueTask.CompletedTask).AsTask();

        var disposing = pool.DisposeAsync().AsTask();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting).WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waitingPost).WithTimeout();
        release.Open();
        await Task.WhenAll(running.Append(queued).Append(disposing)).WithTimeout();
        var stats = pool.GetStatistics();
        Assert.Equal(stats.Ledger.Submitted, stats.Ledger.Succeeded + stats.Ledger.Cancelled);
    }

    [Fact]
    public async Task DrainTimeoutDropsQueuedItemsAndCancelsRunningOnes()
    {
        var time = new FakeTimeProvider();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = CreatePool(workers: 1, capacity: 10, onDropped: dropped.Enqueue, time: time, drainTimeout: TimeSpan.FromSeconds(5));
        var started = new Gate();
        var running = pool.RunAsync(async ct =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
        }).AsTask();
        await started.Task.WithTimeout();
        var queued = Enumerable.Range(0, 3).Select(_ => pool.RunAsync(_ => ValueTask.CompletedTask).AsTask()).ToList();

        var disposing = pool.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(disposing.IsCompleted);
        Assert.False(running.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        await disposing.WithTimeout();
        // The running item's caller learns why it ended the same way as the queued ones: the drain timeout cut it.
        var cut = await Assert.ThrowsAsync<ItemDroppedException>(() => running).WithTimeout();
        Assert.Equal(DropReason.DrainTimeout, cut.Reason);
        foreach (var item in queued)
        {
            var error = await Assert.ThrowsAsync<ItemDroppedException>(() => item).WithTimeout();
            Assert.Equal(DropReason.DrainTimeout, error.Reason);
        }

        Assert.Equal(4, dropped.Count(d => d.Reason == DropReason.DrainTimeout));
        var stats = pool.GetStatistics();
        Assert.Equal((4L, 0L), (stats.Ledger.Dropped, stats.Ledger.Cancelled));
        Assert.True(stats.Ledger.IsBalanced);
    }

    [Fact]
    public async Task ARunningItemItsCallerCancelsDuringTheDrainEndsAsCancelledNotAsADrainDrop()
    {
        var time = new FakeTimeProvider();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = CreatePool(workers: 1, capacity: 10, onDropped: dropped.Enqueue, time: time, drainTimeout: TimeSpan.FromSeconds(5));
        using var callerCts = new CancellationTokenSource();
        var started = new Gate();
        var running = pool.RunAsync(async ct =>
        {
            started.Open();
            await Task.Delay(Timeout.Infinite, ct);
        }, callerCts.Token).AsTask();
        await started.Task.WithTimeout();

        var disposing = pool.DisposeAsync().AsTask();
        callerCts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WithTimeout();
        await disposing.WithTimeout();

        Assert.Empty(dropped);
        var stats = pool.GetStatistics();
        Assert.Equal((0L, 1L), (stats.Ledger.Dropped, stats.Ledger.Cancelled));
    }

    [Fact]
    public async Task ANestedAwaitedSubmissionToAFullPoolRunsInlineInsteadOfHanging()
    {
        await using var pool = CreatePool(workers: 1, capacity: 1);
        var result = await pool.RunAsync(async ct =>
        {
            // The only worker runs this item, so no nested awaited submission can start on an idle worker: each runs
            // inline instead of waiting for a worker that would never come.
            var filler = pool.RunAsync(_ => ValueTask.FromResult(0), ct);
            var inner = await pool.RunAsync(async innerCt =>
            {
                var deeper = await pool.RunAsync(_ => ValueTask.FromResult(2), innerCt);
                return deeper + 1;
            }, ct);
            return inner + await filler;
        }).WithTimeout();

        Assert.Equal(3, result);
    }

    [Fact]
    public async Task ANestedPostToAFullWaitModePoolRunsInline()
    {
        await using var pool = CreatePool(workers: 1, capacity: 1);
        var ranInline = false;
        var outcome = await pool.RunAsync(async ct =>
        {
            Assert.Equal(PostResult.Accepted, await pool.PostAsync(_ => ValueTask.CompletedTask, ct));
            return await pool.PostAsync(_ => { ranInline = true; return ValueTask.CompletedTask; }, ct);
        }).WithTimeout();

        Assert.Equal(PostResult.RanInline, outcome);
        Assert.True(ranInline);
    }

    [Fact]
    public async Task WorkRunsThroughTheResiliencePipeline()
    {
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.Zero, ShouldHandle = new PredicateBuilder().Handle<TimeoutException>() })
            .Build();
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).WithResilience(pipeline).Build();
        var attempts = 0;

        var result = await pool.RunAsync(_ =>
            ++attempts < 3 ? throw new TimeoutException("transient") : ValueTask.FromResult(attempts)).WithTimeout();

        Assert.Equal(3, result);
        Assert.Equal(1, pool.GetStatistics().Ledger.Succeeded);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
