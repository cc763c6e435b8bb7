using System.Collections.Concurrent;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

/// <summary>
/// Nothing lost silently: a failure in the bus's own work (a drain's timed wait, the report of a handler's failure)
/// reaches whoever can hear it, and every message it leaves behind is reported dropped instead of vanishing.
/// </summary>
public sealed class CoordinationBusSilentLossTests
{
    [Fact]
    public async Task A_bus_drain_whose_timed_wait_fails_cancels_the_handlers_drops_the_rest_and_the_disposal_reports_it()
    {
        var clock = new FaultyClock();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var bus = Exec.Bus().WithName("bus-drain-fault").WithTimeProvider(clock).WithDrainTimeout(TimeSpan.FromMinutes(5)).OnDropped(dropped.Enqueue).Build();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Subscribe<int>("work", async (m, ct) =>
        {
            // Registered before saying it entered: the test may dispose as soon as it hears, and a registration made
            // after the cancellation would run too late for the assertion below.
            using var registration = ct.Register(() => cancelled.TrySetResult());
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        await bus.PublishAsync("work", 1);
        await entered.Task.WithTimeout();
        await bus.PublishAsync("work", 2); // queued behind the running handler

        clock.FailTimers = true;
        await Assert.ThrowsAsync<ClockFault>(() => bus.DisposeAsync().WithTimeout());

        Assert.True(cancelled.Task.IsCompleted);
        Assert.Equal([1, 2], dropped.Select(d => (int)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal((2L, 2L, 0L, 0L), (ledger.Submitted, ledger.Dropped, ledger.InFlight, ledger.Queued));
    }

    [Fact]
    public async Task A_subscription_drain_whose_timed_wait_fails_cancels_its_handler_and_its_DisposeAsync_reports_it()
    {
        var clock = new FaultyClock();
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().WithName("subscription-drain-fault").WithTimeProvider(clock).WithDrainTimeout(TimeSpan.FromMinutes(5)).OnDropped(dropped.Enqueue).Build();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscription = bus.Subscribe<int>("work", async (m, ct) =>
        {
            entered.TrySetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        await bus.PublishAsync("work", 1);
        await entered.Task.WithTimeout();
        await bus.PublishAsync("work", 2);

        clock.FailTimers = true;
        await Assert.ThrowsAsync<ClockFault>(() => subscription.DisposeAsync().WithTimeout());
        clock.FailTimers = false;

        Assert.True(subscription.Completion.IsCompletedSuccessfully);
        Assert.Equal([1, 2], dropped.Select(d => (int)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal((2L, 2L, 0L), (ledger.Submitted, ledger.Dropped, ledger.InFlight));
    }

    [Fact]
    public async Task A_handler_loop_that_ends_with_an_exception_stops_its_subscription_and_reports_every_queued_message_dropped()
    {
        var clock = new FaultyClock();
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().WithName("loop-fault").WithTimeProvider(clock).OnDropped(dropped.Enqueue).Build();
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var subscription = bus.Subscribe<int>("work", m =>
        {
            entered.Set();
            Assert.True(release.Wait(TestTimeout.Unexpected));

            // The handler fails; reporting that failure (its dead letter's timestamp) then throws on this loop's thread.
            FaultyClock.FailNextUtcNowOnThisThread();
            throw new InvalidOperationException($"handler failed on {m.Message}");
        });
        await bus.PublishAsync("work", 1);
        Assert.True(entered.Wait(TestTimeout.Unexpected));
        await bus.PublishAsync("work", 2);
        await bus.PublishAsync("work", 3);
        release.Set();

        await subscription.Completion.WithTimeout();

        Assert.False(subscription.IsActive);
        Assert.Equal([2, 3], dropped.Select(d => (int)d.Item!).Order());
        Assert.All(dropped, d => Assert.Equal(DropReason.Cancelled, d.Reason));
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal((3L, 1L, 2L, 0L, 0L), (ledger.Submitted, ledger.Failed, ledger.Cancelled, ledger.InFlight, ledger.Queued));
        Assert.True(ledger.IsBalanced, ledger.ToString());

        // The stopped subscription takes nothing more: a later message finds no subscriber.
        var later = await bus.PublishAsync("work", 4);
        Assert.Equal(0, later.Matched);
    }
}
