using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

/// <summary>A subscriber handler that awaits its own bus's DisposeAsync must not wait for itself.</summary>
public class CoordinationBusSelfDisposeTests
{
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Handler_disposing_its_bus_returns_once_the_other_subscriptions_drained_and_outside_callers_wait_for_it()
    {
        var bus = new CoordinationBus();
        var handled = new ConcurrentQueue<string>();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var selfFinish = NewSignal();
        var otherStarted = NewSignal();
        var releaseOther = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        string[]? handledWhenDisposeReturned = null;
        try
        {
            bus.Subscribe<int>("self", async (m, _) =>
            {
                if (m.Message == 0)
                {
                    selfStarted.SetResult();
                    await selfGo.Task;
                    var disposing = bus.DisposeAsync().AsTask();
                    insideDispose.SetResult(disposing);
                    await disposing;
                    handledWhenDisposeReturned = [.. handled];
                    await selfFinish.Task;
                }

                handled.Enqueue($"self{m.Message}");
            });
            bus.Subscribe<int>("other", async (m, _) =>
            {
                if (m.Message == 0)
                {
                    otherStarted.SetResult();
                    await releaseOther.Task;
                }

                handled.Enqueue($"other{m.Message}");
            });
            await bus.PublishAsync("self", 0);
            await selfStarted.Task.WithTimeout();
            await bus.PublishAsync("self", 1);
            await bus.PublishAsync("self", 2);
            for (var i = 0; i < 4; i++)
            {
                await bus.PublishAsync("other", i);
            }

            await otherStarted.Task.WithTimeout();

            selfGo.SetResult();
            var fromInside = await insideDispose.Task.WithTimeout();
            Assert.False(fromInside.IsCompleted); // the other subscription has not drained yet
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await bus.PublishAsync("other", 99));
            var fromOutside = bus.DisposeAsync().AsTask();

            releaseOther.SetResult();
            await fromInside.WithTimeout();
            await TestTimeout.WaitUntilAsync(() => handledWhenDisposeReturned is not null);
            Assert.Equal(["other0", "other1", "other2", "other3"], handledWhenDisposeReturned!);
            Assert.False(fromOutside.IsCompleted); // the outside call waits for the disposing handler's subscription too

            selfFinish.SetResult();
            await fromOutside.WithTimeout();
            Assert.Equal(["other0", "other1", "other2", "other3", "self0", "self1", "self2"], handled);
            var statistics = bus.GetStatistics();
            Assert.Equal(7, statistics.Ledger.Succeeded);
            Assert.Equal(0, statistics.Ledger.Failed + statistics.Ledger.Dropped);
        }
        finally
        {
            releaseOther.TrySetResult();
            selfFinish.TrySetResult();
        }
    }

    [Fact]
    public async Task Handler_disposing_a_bus_already_disposing_from_outside_does_not_wait_for_itself()
    {
        var bus = new CoordinationBus();
        var started = NewSignal();
        var go = NewSignal();
        var handled = new ConcurrentQueue<int>();
        bus.Subscribe<int>("t", async (m, _) =>
        {
            if (m.Message == 0)
            {
                started.SetResult();
                await go.Task;
                await bus.DisposeAsync();
            }

            handled.Enqueue(m.Message);
        });
        await bus.PublishAsync("t", 0);
        await bus.PublishAsync("t", 1);
        await started.Task.WithTimeout();
        var fromOutside = bus.DisposeAsync().AsTask();
        Assert.False(fromOutside.IsCompleted);

        go.SetResult();
        await fromOutside.WithTimeout();
        Assert.Equal([0, 1], handled);
        Assert.Throws<ObjectDisposedException>(() => bus.Subscribe<int>("t", _ => { }));
    }

    [Fact]
    public async Task Two_handlers_disposing_their_bus_at_once_do_not_wait_for_each_other()
    {
        var bus = new CoordinationBus();
        var started = new CountdownEvent(2);
        var go = NewSignal();
        var returned = new ConcurrentQueue<string>();
        foreach (var topic in new[] { "a", "b" })
        {
            bus.Subscribe<int>(topic, async (m, _) =>
            {
                started.Signal();
                await go.Task;
                await bus.DisposeAsync();
                returned.Enqueue(topic);
            });
            await bus.PublishAsync(topic, 0);
        }

        await TestTimeout.WaitUntilAsync(() => started.IsSet);
        go.SetResult();
        await bus.DisposeAsync().WithTimeout();
        Assert.Equal(["a", "b"], returned.Order());
    }

    [Fact]
    public async Task Drain_timeout_from_a_handler_cancels_and_drops_the_rest_everywhere_and_releases_the_caller()
    {
        var time = new FakeTimeProvider();
        var drops = new ConcurrentQueue<DroppedItem>();
        var bus = Exec.Bus().WithTimeProvider(time).WithDrainTimeout(TimeSpan.FromSeconds(5)).OnDropped(drops.Enqueue).Build();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var otherStarted = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        var selfSawCancellation = false;
        bus.Subscribe<int>("self", async (m, ct) =>
        {
            selfStarted.SetResult();
            await selfGo.Task;
            var disposing = bus.DisposeAsync().AsTask();
            insideDispose.SetResult(disposing);
            await disposing;
            selfSawCancellation = ct.IsCancellationRequested; // the deadline applies to the caller's subscription too
        });
        bus.Subscribe<int>("other", async (m, ct) =>
        {
            otherStarted.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        });
        for (var i = 0; i < 2; i++)
        {
            await bus.PublishAsync("self", i);
            await bus.PublishAsync("other", i);
        }

        await selfStarted.Task.WithTimeout();
        await otherStarted.Task.WithTimeout();
        selfGo.SetResult();
        var fromInside = await insideDispose.Task.WithTimeout();
        Assert.False(fromInside.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));

        await fromInside.WithTimeout();
        await bus.DisposeAsync().WithTimeout();
        Assert.True(selfSawCancellation);
        // The other handler, cut while running, and the two queued messages are each dropped once; nothing is dead-lettered.
        Assert.False(bus.TryReadDeadLetter(out _));
        Assert.Equal(["other:0", "other:1", "self:1"], drops.Select(d => $"{d.Key}:{d.Item}").Order());
        Assert.All(drops, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        Assert.Equal(1, bus.GetStatistics().Ledger.Succeeded);
    }
}
