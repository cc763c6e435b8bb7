using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>A batch handler that awaits its own processor's DisposeAsync must not wait for itself.</summary>
public class BatchProcessorSelfDisposeTests
{
    /// <summary>One item per batch, so that each item id is one handler call.</summary>
    private static BatchProcessorOptions<int> Options(int slots, TimeProvider? time = null, TimeSpan? disposeTimeout = null) => new()
    {
        MaxBatchSize = 1,
        MaxDelay = Timeout.InfiniteTimeSpan,
        MaxDegreeOfParallelism = slots,
        QueueCapacity = 16,
        TimeProvider = time ?? TimeProvider.System,
        DrainTimeout = disposeTimeout ?? Timeout.InfiniteTimeSpan,
        Name = "self-dispose",
    };

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Handler_disposing_its_own_processor_returns_once_everything_else_drained_and_outside_callers_wait_for_it()
    {
        var handled = new ConcurrentDictionary<int, bool>();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var selfFinish = NewSignal();
        var otherStarted = NewSignal();
        var releaseOther = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        int[]? handledWhenDisposeReturned = null;
        BatchProcessor<int, int>? processor = null;
        processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                var id = items.Single();
                if (id == 0)
                {
                    selfStarted.SetResult();
                    await selfGo.Task;
                    var disposing = processor!.DisposeAsync().AsTask();
                    insideDispose.SetResult(disposing);
                    await disposing;
                    handledWhenDisposeReturned = [.. handled.Keys.Order()];
                    await selfFinish.Task;
                }
                else if (id == 1)
                {
                    otherStarted.SetResult();
                    await releaseOther.Task;
                }

                handled[id] = true;
                return [id * 10];
            },
            Options(slots: 2));
        try
        {
            var self = processor.SubmitAsync(0).AsTask();
            await selfStarted.Task.WithTimeout();
            var other = processor.SubmitAsync(1).AsTask();
            await otherStarted.Task.WithTimeout();
            var queued = Enumerable.Range(2, 3).Select(id => processor.SubmitAsync(id).AsTask()).ToList();

            selfGo.SetResult();
            var fromInside = await insideDispose.Task.WithTimeout();
            Assert.False(fromInside.IsCompleted); // item 1's handler still runs and three batches wait for a slot
            Assert.Throws<ObjectDisposedException>(() => processor.SubmitAsync(99));
            Assert.Throws<ObjectDisposedException>(() => processor.TryPost(99));
            var fromOutside = processor.DisposeAsync().AsTask();

            releaseOther.SetResult();
            await fromInside.WithTimeout();
            await TestTimeout.WaitUntilAsync(() => handledWhenDisposeReturned is not null);
            Assert.Equal([1, 2, 3, 4], handledWhenDisposeReturned!);
            Assert.False(fromOutside.IsCompleted); // the outside call waits for the handler that disposed too

            selfFinish.SetResult();
            await fromOutside.WithTimeout();
            Assert.Equal(0, await self.WithTimeout());
            Assert.Equal(10, await other.WithTimeout());
            var results = await Task.WhenAll(queued).WithTimeout();
            Assert.Equal([20, 30, 40], results);
            var statistics = processor.GetStatistics();
            Assert.Equal(5, statistics.Ledger.Succeeded);
            Assert.Equal(0, statistics.Ledger.Failed + statistics.Ledger.Dropped + statistics.Ledger.Cancelled);
        }
        finally
        {
            releaseOther.TrySetResult();
            selfFinish.TrySetResult();
        }
    }

    [Fact]
    public async Task Handler_disposing_from_the_only_slot_returns_at_once_and_the_queued_batches_run_after_it()
    {
        var order = new ConcurrentQueue<int>();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        BatchProcessor<int, int>? processor = null;
        processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                var id = items.Single();
                if (id == 0)
                {
                    selfStarted.SetResult();
                    await selfGo.Task;
                    await processor!.DisposeAsync(); // the queued batches need this slot
                }

                order.Enqueue(id);
                return [id];
            },
            Options(slots: 1));
        var self = processor.SubmitAsync(0).AsTask();
        await selfStarted.Task.WithTimeout();
        var queued = Enumerable.Range(1, 3).Select(id => processor.SubmitAsync(id).AsTask()).ToList();

        selfGo.SetResult();
        Assert.Equal(0, await self.WithTimeout());
        var results = await Task.WhenAll(queued).WithTimeout();
        Assert.Equal([1, 2, 3], results);
        await processor.DisposeAsync().WithTimeout();
        Assert.Equal([0, 1, 2, 3], order);
        Assert.Equal(4, processor.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Two_handlers_disposing_their_processor_at_once_do_not_wait_for_each_other()
    {
        var started = new CountdownEvent(2);
        var go = NewSignal();
        BatchProcessor<int, int>? processor = null;
        processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                started.Signal();
                await go.Task;
                await processor!.DisposeAsync();
                return [items.Single()];
            },
            Options(slots: 2));
        var calls = new[] { processor.SubmitAsync(0).AsTask(), processor.SubmitAsync(1).AsTask() };
        await TestTimeout.WaitUntilAsync(() => started.IsSet);

        go.SetResult();
        var results = await Task.WhenAll(calls).WithTimeout();
        Assert.Equal([0, 1], results);
        await processor.DisposeAsync().WithTimeout();
        Assert.Equal(2, processor.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task Dispose_timeout_from_a_handler_drops_the_queue_cancels_the_others_and_releases_the_caller()
    {
        var time = new FakeTimeProvider();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var otherStarted = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = new ConcurrentQueue<(int Item, DropReason Reason)>();
        BatchProcessor<int, int>? processor = null;
        var options = Options(slots: 2, time, disposeTimeout: TimeSpan.FromSeconds(10));
        options.OnDropped = d => dropped.Enqueue(((int)d.Item!, d.Reason));
        processor = new BatchProcessor<int, int>(
            async (items, ct) =>
            {
                var id = items.Single();
                if (id == 0)
                {
                    selfStarted.SetResult();
                    await selfGo.Task;
                    var disposing = processor!.DisposeAsync().AsTask();
                    insideDispose.SetResult(disposing);
                    await disposing;
                }
                else
                {
                    otherStarted.SetResult();
                    await Task.Delay(Timeout.InfiniteTimeSpan, ct);
                }

                return [id];
            },
            options);
        var self = processor.SubmitAsync(0).AsTask();
        await selfStarted.Task.WithTimeout();
        var other = processor.SubmitAsync(1).AsTask();
        await otherStarted.Task.WithTimeout();
        var queued = Enumerable.Range(2, 2).Select(id => processor.SubmitAsync(id).AsTask()).ToList();

        selfGo.SetResult();
        var fromInside = await insideDispose.Task.WithTimeout();
        Assert.False(fromInside.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(10));

        await fromInside.WithTimeout();
        Assert.Equal(0, await self.WithTimeout());
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => other.WithTimeout());
        foreach (var item in queued)
        {
            var exception = await Assert.ThrowsAsync<ItemDroppedException>(() => item.WithTimeout());
            Assert.Equal(DropReason.DrainTimeout, exception.Reason);
        }

        await processor.DisposeAsync().WithTimeout();
        // Item 1's running call was cancelled by the drain timeout: it is reported with the queued ones.
        Assert.Equal([(1, DropReason.DrainTimeout), (2, DropReason.DrainTimeout), (3, DropReason.DrainTimeout)], dropped.OrderBy(d => d.Item));
        var statistics = processor.GetStatistics();
        Assert.Equal((1, 0, 3), (statistics.Ledger.Succeeded, statistics.Ledger.Failed, statistics.Ledger.Dropped));
    }
}
