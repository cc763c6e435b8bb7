using System.Collections.Concurrent;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>
/// Nothing lost silently: a failure in the processor's own work around the handler (here its clock; a throwing listener
/// callback takes the same path) ends every item it carries and reaches the error channel, instead of leaving callers
/// waiting forever or a disposal reporting success over work still running.
/// </summary>
public sealed class BatchProcessorSilentLossTests
{
    [Fact]
    public async Task A_failure_around_the_handler_ends_every_item_of_the_batch_and_reaches_OnError()
    {
        // Call 1 stamps the open batch (on the submitter); call 2 is the worker's start stamp, around the handler.
        var clock = new FaultyClock { FailTimestampsFrom = 2 };
        var errors = new ConcurrentQueue<FailedItem>();
        var handlerCalls = 0;
        var processor = Exec.Batch<int, int>((items, _) =>
            {
                Interlocked.Increment(ref handlerCalls);
                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            })
            .WithName("worker-fault")
            .WithMaxBatchSize(4)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithTimeProvider(clock)
            .OnError(errors.Enqueue)
            .Build();

        var awaited = new[] { processor.SubmitAsync(1).AsTask(), processor.SubmitAsync(2).AsTask() };
        Assert.Equal(PostResult.Accepted, processor.TryPost(3));
        Assert.Equal(PostResult.Accepted, processor.TryPost(4)); // the fourth item seals the batch

        foreach (var caller in awaited)
        {
            await Assert.ThrowsAsync<ClockFault>(() => caller.WithTimeout());
        }

        await TestTimeout.WaitUntilAsync(() => errors.Count == 2);
        Assert.Equal([3, 4], errors.Select(e => (int)e.Item!).Order());
        Assert.All(errors, e => Assert.IsType<ClockFault>(e.Exception));
        Assert.Equal(0, handlerCalls);

        await processor.DisposeAsync().WithTimeout();
        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal((4L, 4L, 0L, 0L), (ledger.Submitted, ledger.Failed, ledger.InFlight, ledger.Queued));
        Assert.True(ledger.IsBalanced, ledger.ToString());
    }

    [Fact]
    public async Task A_drain_whose_timed_wait_fails_cancels_the_rest_and_the_disposal_reports_the_failure()
    {
        var clock = new FaultyClock();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var processor = Exec.Batch<int, int>(async (items, ct) =>
            {
                entered.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct); // ends only when the processor cancels it
                return items.ToArray();
            })
            .WithName("drain-fault")
            .WithMaxBatchSize(1)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithTimeProvider(clock)
            .WithDrainTimeout(TimeSpan.FromMinutes(5))
            .OnDropped(dropped.Enqueue)
            .Build();

        var running = processor.SubmitAsync(1).AsTask();
        await entered.Task.WithTimeout();
        Assert.Equal(PostResult.Accepted, processor.TryPost(2)); // queued behind the running batch

        clock.FailTimers = true; // the drain's timed wait cannot start
        await Assert.ThrowsAsync<ClockFault>(() => processor.DisposeAsync().WithTimeout());

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running.WithTimeout());
        Assert.Equal([1, 2], dropped.Select(d => (int)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        Assert.True(processor.Completion.IsCompletedSuccessfully);
        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal((2L, 2L, 0L, 0L), (ledger.Submitted, ledger.Dropped, ledger.InFlight, ledger.Queued));
    }
}
