using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>The bounded intake (the four full modes), cancellation, flushing and disposal.</summary>
public class BatchProcessorQueueTests
{
    /// <summary>A handler whose first call blocks until released, so that later batches queue up behind it.</summary>
    private sealed class GatedHandler
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<int[]> Batches { get; } = [];

        public void Release() => _gate.TrySetResult();

        public async ValueTask<IReadOnlyList<int>> HandleAsync(IReadOnlyList<int> items, CancellationToken cancellationToken)
        {
            lock (Batches)
            {
                Batches.Add(items.ToArray());
            }

            Entered.TrySetResult();
            await _gate.Task.WaitAsync(cancellationToken);
            return items.Select(i => i * 10).ToArray();
        }
    }

    /// <summary>Two items run (blocked), two wait in a flushed batch: the intake (capacity 2) is full.</summary>
    private static async Task<(BatchProcessor<int, int> Processor, Task<int>[] Tasks)> FillAsync(
        GatedHandler handler, QueueFullMode mode, List<(int Item, DropReason Reason)> drops)
    {
        var processor = new BatchProcessor<int, int>(handler.HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = 2,
            QueueCapacity = 2,
            MaxDelay = Timeout.InfiniteTimeSpan,
            FullMode = mode,
            OnDropped = dropped =>
            {
                lock (drops)
                {
                    drops.Add(((int)dropped.Item!, dropped.Reason));
                }
            },
        });
        var tasks = new[] { 1, 2, 3, 4 }.Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        await handler.Entered.Task.WithTimeout();
        Assert.Equal(2, processor.GetStatistics().Ledger.Queued);
        return (processor, tasks);
    }

    [Fact]
    public async Task WaitModeHoldsTheSubmitterUntilThereIsRoom()
    {
        var handler = new GatedHandler();
        var drops = new List<(int, DropReason)>();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.Wait, drops);

        var fifth = processor.SubmitAsync(5).AsTask();
        Assert.False(fifth.IsCompleted);
        Assert.Equal(4, processor.GetStatistics().Ledger.Submitted);

        handler.Release();
        await Task.WhenAll(tasks).WithTimeout();
        await processor.DisposeAsync();
        Assert.Equal(50, await fifth.WithTimeout());
        Assert.Empty(drops);
    }

    [Fact]
    public async Task RejectModeRefusesTheNewItemAndSaysSo()
    {
        var handler = new GatedHandler();
        var drops = new List<(int, DropReason)>();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.Reject, drops);

        var error = await Assert.ThrowsAsync<ItemDroppedException>(() => processor.SubmitAsync(5).AsTask());
        Assert.Equal(DropReason.Rejected, error.Reason);
        Assert.Equal(PostResult.Rejected, processor.TryPost(6));

        handler.Release();
        Assert.Equal(new[] { 10, 20, 30, 40 }, await Task.WhenAll(tasks).WithTimeout());
        await processor.DisposeAsync();
        Assert.Equal(new[] { (5, DropReason.Rejected), (6, DropReason.Rejected) }, drops);
        Assert.Equal(2, processor.GetStatistics().Ledger.Rejected);
        Assert.Equal(0, processor.GetStatistics().Ledger.Dropped);
    }

    [Fact]
    public async Task DropOldestEvictsTheOldestWaitingItem()
    {
        var handler = new GatedHandler();
        var drops = new List<(int, DropReason)>();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.DropOldest, drops);

        var fifth = processor.SubmitAsync(5).AsTask();
        var error = await Assert.ThrowsAsync<ItemDroppedException>(() => tasks[2].WithTimeout());
        Assert.Equal(DropReason.DroppedOldest, error.Reason);

        handler.Release();
        await processor.DisposeAsync();
        Assert.Equal(new[] { 10, 20, 40, 50 }, new[] { await tasks[0], await tasks[1], await tasks[3], await fifth });
        Assert.Equal(new[] { (3, DropReason.DroppedOldest) }, drops);
        Assert.DoesNotContain(handler.Batches, b => b.Contains(3));
    }

    [Fact]
    public async Task DropNewestEvictsTheNewestWaitingItem()
    {
        var handler = new GatedHandler();
        var drops = new List<(int, DropReason)>();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.DropNewest, drops);

        var fifth = processor.SubmitAsync(5).AsTask();
        var error = await Assert.ThrowsAsync<ItemDroppedException>(() => tasks[3].WithTimeout());
        Assert.Equal(DropReason.DroppedNewest, error.Reason);

        handler.Release();
        await processor.DisposeAsync();
        Assert.Equal(new[] { 10, 20, 30, 50 }, new[] { await tasks[0], await tasks[1], await tasks[2], await fifth });
        Assert.Equal(new[] { (4, DropReason.DroppedNewest) }, drops);
    }

    [Fact]
    public async Task CancellingAWaitingItemTakesItOutOfItsBatch()
    {
        var time = new FakeTimeProvider();
        var seen = new List<int[]>();
        await using var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                lock (seen)
                {
                    seen.Add(items.ToArray());
                }

                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int> { MaxDelay = TimeSpan.FromSeconds(1), TimeProvider = time });
        using var cts = new CancellationTokenSource();

        var first = processor.SubmitAsync(1).AsTask();
        var second = processor.SubmitAsync(2, cts.Token).AsTask();
        var third = processor.SubmitAsync(3).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second.WithTimeout());
        Assert.Equal(2, processor.GetStatistics().Ledger.Queued);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(new[] { 1, 3 }, await Task.WhenAll(first, third).WithTimeout());
        Assert.Equal(new[] { 1, 3 }, Assert.Single(seen));
        Assert.Equal(1, processor.GetStatistics().Ledger.Cancelled);
    }

    [Fact]
    public async Task CancellingOneOfTwoCoalescedCallersKeepsTheSlotForTheOther()
    {
        var time = new FakeTimeProvider();
        var calls = 0;
        await using var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                Interlocked.Increment(ref calls);
                return new ValueTask<IReadOnlyList<int>>(items.Select(i => -i).ToArray());
            },
            new BatchProcessorOptions<int> { MaxDelay = TimeSpan.FromSeconds(1), TimeProvider = time, Coalesce = true });
        using var cts = new CancellationTokenSource();

        var cancelled = processor.SubmitAsync(7, cts.Token).AsTask();
        var kept = processor.SubmitAsync(7).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WithTimeout());

        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(-7, await kept.WithTimeout());
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task OnceTheBatchStartedTheCallersTokenNoLongerCancelsIt()
    {
        var handler = new GatedHandler();
        await using var processor = new BatchProcessor<int, int>(handler.HandleAsync, new BatchProcessorOptions<int> { MaxBatchSize = 1 });
        using var cts = new CancellationTokenSource();

        var task = processor.SubmitAsync(4, cts.Token).AsTask();
        await handler.Entered.Task.WithTimeout();
        await cts.CancelAsync();
        handler.Release();

        Assert.Equal(40, await task.WithTimeout());
    }

    [Fact]
    public async Task FlushAsyncHandsOverTheOpenBatchAndWaitsForIt()
    {
        var time = new FakeTimeProvider();
        await using var processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                await Task.Yield();
                return items.Select(i => i + 1).ToArray();
            },
            new BatchProcessorOptions<int> { MaxDelay = TimeSpan.FromSeconds(1), TimeProvider = time });

        var first = processor.SubmitAsync(1);
        var second = processor.SubmitAsync(2);
        await processor.FlushAsync().AsTask().WithTimeout();

        // The items' own tasks (not wrappers, whose continuations run later) are complete when the flush is.
        Assert.True(first.IsCompletedSuccessfully);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal(2, await first);
        Assert.Equal(3, await second);
        Assert.Equal(1, processor.GetStatistics().FlushedByRequest);
        await processor.FlushAsync().AsTask().WithTimeout(); // nothing pending: completes at once
    }

    [Fact]
    public async Task DrainTimeoutCancelsTheHandlerAndDropsBatchesThatHaveNotStarted()
    {
        var time = new FakeTimeProvider();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var drops = new List<(int, DropReason)>();
        var processor = new BatchProcessor<int, int>(
            async (items, ct) =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                return items;
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = 2,
                MaxDelay = Timeout.InfiniteTimeSpan,
                DrainTimeout = TimeSpan.FromSeconds(5),
                TimeProvider = time,
                OnDropped = dropped =>
                {
                    lock (drops)
                    {
                        drops.Add(((int)dropped.Item!, dropped.Reason));
                    }
                },
            });
        var tasks = Enumerable.Range(1, 4).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        await entered.Task.WithTimeout();

        var disposing = processor.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        await disposing.WithTimeout();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tasks[0]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => tasks[1]);
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => tasks[2])).Reason);
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => tasks[3])).Reason);
        // Every item the drain timeout cut is reported, the running ones (1, 2) as well as the queued ones (3, 4).
        Assert.Equal(new[] { 1, 2, 3, 4 }, drops.Select(d => d.Item1).Order());
        Assert.All(drops, d => Assert.Equal(DropReason.DrainTimeout, d.Item2));
        var stats = processor.GetStatistics();
        Assert.Equal(0, stats.Ledger.Failed);
        Assert.Equal(4, stats.Ledger.Dropped);
    }

    [Fact]
    public async Task SubmittersWaitingForRoomGetObjectDisposedExceptionWhenDisposed()
    {
        var handler = new GatedHandler();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.Wait, []);
        var waiting = processor.SubmitAsync(5).AsTask();

        var disposing = processor.DisposeAsync().AsTask();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting.WithTimeout());
        handler.Release();
        await disposing.WithTimeout();
        Assert.Equal(new[] { 10, 20, 30, 40 }, await Task.WhenAll(tasks));
    }
    [Fact]
    public async Task MaxDegreeOfParallelismBoundsTheHandlerCallsRunningAtOnce()
    {
        var running = 0;
        var peak = 0;
        var twoRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref peak, now);
                if (now == 2)
                {
                    twoRunning.TrySetResult();
                }

                await release.Task;
                Interlocked.Decrement(ref running);
                return items;
            },
            new BatchProcessorOptions<int> { MaxBatchSize = 1, MaxDegreeOfParallelism = 2 });

        var tasks = Enumerable.Range(0, 6).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        await twoRunning.Task.WithTimeout();
        Assert.Equal(4, processor.GetStatistics().Ledger.Queued);
        Assert.Equal(2, processor.GetStatistics().RunningBatches);
        release.TrySetResult();

        Assert.Equal(Enumerable.Range(0, 6), await Task.WhenAll(tasks).WithTimeout());
        Assert.Equal(2, peak);
    }

    [Fact]
    public async Task CancellingASubmitterThatWaitsForRoomEndsItWithoutEnqueueing()
    {
        var handler = new GatedHandler();
        var (processor, tasks) = await FillAsync(handler, QueueFullMode.Wait, []);
        using var cts = new CancellationTokenSource();

        var waiting = processor.SubmitAsync(5, cts.Token).AsTask();
        var posting = processor.PostAsync(6, cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WithTimeout());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => posting.WithTimeout());
        handler.Release();
        await processor.DisposeAsync();
        Assert.Equal(new[] { 10, 20, 30, 40 }, await Task.WhenAll(tasks));
        Assert.DoesNotContain(handler.Batches, b => b.Contains(5) || b.Contains(6));
        var stats = processor.GetStatistics();
        Assert.Equal(4, stats.Ledger.Submitted);
        Assert.Equal(4, stats.Ledger.Succeeded);
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
