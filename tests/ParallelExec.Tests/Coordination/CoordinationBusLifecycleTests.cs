using System.Collections.Concurrent;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

/// <summary>The bus's lifecycle (Complete, Completion, DisposeAsync) and the per-item reports of what did not succeed.</summary>
public class CoordinationBusLifecycleTests
{
    [Fact]
    public async Task Complete_stops_publishing_lets_every_mailbox_drain_then_Completion_ends()
    {
        await using var bus = Exec.Bus().WithName("completing").Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<int>();
        using var slow = bus.Subscribe<int>("work", async (m, ct) =>
        {
            await gate.Task;
            handled.Enqueue(m.Message);
        });
        using var stream = bus.SubscribeStream<int>("work");
        for (var i = 0; i < 5; i++)
        {
            await bus.PublishAsync("work", i);
        }

        bus.Complete();
        bus.Complete(); // idempotent

        var publish = await Assert.ThrowsAsync<InvalidOperationException>(async () => await bus.PublishAsync("work", 99));
        Assert.Contains("completing", publish.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => bus.Subscribe<int>("work", _ => { }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => bus.RequestAsync<int, int>("work", 1));
        Assert.False(slow.IsActive);
        Assert.False(bus.Completion.IsCompleted); // the handler still holds its mailbox

        gate.SetResult();
        await bus.Completion.WithTimeout();

        Assert.Equal([0, 1, 2, 3, 4], handled.ToArray());
        // A stream's messages stay readable after Complete (the reader owns the pace); Completion does not wait for it.
        var read = new List<int>();
        while (stream.TryRead(out var message))
        {
            read.Add(message.Message);
        }

        Assert.Equal([0, 1, 2, 3, 4], read);
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal((10L, 10L), (ledger.Submitted, ledger.Succeeded));
        Assert.True(ledger.IsBalanced, ledger.ToString());

        await bus.DisposeAsync().WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await bus.PublishAsync("work", 100));
    }

    [Fact]
    public async Task DisposeAsync_completes_Completion_and_a_bus_is_an_IExecComponent()
    {
        IExecComponent component = Exec.Bus().WithName("component").Build();
        var bus = (CoordinationBus)component;
        using var subscription = bus.Subscribe<int>("t", _ => { });
        await bus.PublishAsync("t", 1);

        await component.DisposeAsync().WithTimeout();

        await component.Completion.WithTimeout();
        var statistics = Assert.IsType<CoordinationBusStatistics>(component.GetStatistics());
        Assert.Equal("component", statistics.Name);
        Assert.Equal((1L, 1L), (statistics.Ledger.Submitted, statistics.Ledger.Succeeded));
    }

    [Fact]
    public async Task A_cancelled_wait_for_room_is_reported_once_as_Cancelled_for_that_subscriber()
    {
        var drops = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().WithName("cancelling").OnDropped(drops.Enqueue).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fast = new ConcurrentQueue<int>();
        using var slow = bus.Subscribe<int>("work", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
        }, new SubscriptionOptions { QueueCapacity = 1, FullMode = QueueFullMode.Wait });
        using var quick = bus.Subscribe<int>("work", m => fast.Enqueue(m.Message));

        await bus.PublishAsync("work", 0);
        await started.Task.WithTimeout();
        await bus.PublishAsync("work", 1); // fills the slow mailbox
        using var cts = new CancellationTokenSource();
        var waiting = bus.PublishAsync("work", 2, cts.Token).AsTask();
        await TestTimeout.WaitUntilAsync(() => slow.Ledger.Queued == 2); // message 1 and the waiting publisher
        Assert.False(waiting.IsCompleted);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).WithTimeout();

        var drop = Assert.Single(drops);
        Assert.Equal(("cancelling", DropReason.Cancelled, 2, "work"), (drop.Component, drop.Reason, (int)drop.Item!, (string)drop.Key!));
        await TestTimeout.WaitUntilAsync(() => fast.Count == 3); // the other subscriber took message 2 before the wait
        gate.SetResult();
        await TestTimeout.WaitUntilAsync(() => slow.Ledger.Succeeded == 2);
        var ledger = slow.Ledger;
        Assert.Equal((3L, 2L, 1L, 0L), (ledger.Submitted, ledger.Succeeded, ledger.Cancelled, ledger.Queued));
        Assert.True(ledger.IsBalanced, ledger.ToString());
    }

    [Fact]
    public async Task A_handler_failure_goes_to_OnError_with_the_message_and_topic_and_to_the_dead_letters()
    {
        var errors = new ConcurrentQueue<FailedItem>();
        await using var bus = Exec.Bus().WithName("failing").OnError(errors.Enqueue).Build();
        using var subscription = bus.Subscribe<int>("jobs.run", m =>
        {
            if (m.Message == 7)
            {
                throw new InvalidOperationException("seven");
            }
        });

        for (var i = 6; i <= 8; i++)
        {
            await bus.PublishAsync("jobs.run", i);
        }

        await TestTimeout.WaitUntilAsync(() => subscription.Ledger.Ended == 3);
        var error = Assert.Single(errors);
        Assert.Equal(("failing", 7, "jobs.run", "seven"), (error.Component, (int)error.Item!, (string)error.Key!, error.Exception.Message));
        Assert.True(bus.TryReadDeadLetter(out var deadLetter));
        Assert.Equal((DeadLetterReason.HandlerFailed, 7), (deadLetter.Reason, (int)deadLetter.Message!));
        Assert.Equal((2L, 1L), (subscription.Ledger.Succeeded, subscription.Ledger.Failed));
    }
}
