using Microsoft.Coyote.Specifications;
using ParallelExec.Coordination;
using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Coordination;

/// <summary>
/// CoordinationBus races under Coyote: Subscribe and Subscription.DisposeAsync against concurrent PublishAsync calls.
/// Each interleaving checks that every subscriber handles a message at most once (the long-lived one exactly once),
/// that each PublishResult's Accepted count equals the handlers that ran for it (no drops are configured), and that
/// no handler runs after its subscription's DisposeAsync has completed.
/// </summary>
public sealed class CoordinationBusInterleavingTests(ITestOutputHelper output)
{
    private const string Topic = "coyote.race";

    [Fact]
    public void Subscribe_and_unsubscribe_racing_PublishAsync_deliver_each_message_at_most_once_per_subscriber() =>
        CoyoteExplorer.AssertNoBug(output, "CoordinationBus.SubscribeUnsubscribeVsPublish", ExploreAsync, iterations: 120, seed: 301);

    private static async Task ExploreAsync()
    {
        var ledger = new Ledger();
        var droppedMessages = 0;
        var bus = new CoordinationBus(new CoordinationBusOptions
        {
            Name = "coyote-bus",
            QueueCapacity = 4,
            OnDropped = _ => Interlocked.Increment(ref droppedMessages),
            OnDeadLetter = deadLetter => Specification.Assert(false, "dead letter: {0} {1}", deadLetter, deadLetter.Exception),
        });
        var results = new Dictionary<int, PublishResult>();
        var lateDisposed = false;

        // Subscribed before the race: must handle every message exactly once.
        var steady = bus.Subscribe<int>(Topic, async (message, _) =>
        {
            ledger.Record(message.Message, "steady");
            await Task.Yield();
        });

        async Task PublishAsync(int id)
        {
            var result = await bus.PublishAsync(Topic, id);
            lock (results)
            {
                results[id] = result;
            }
        }

        var firstPublisher = Task.Run(async () =>
        {
            await PublishAsync(1);
            await PublishAsync(2);
        });
        var secondPublisher = Task.Run(async () =>
        {
            await Task.Yield();
            await PublishAsync(3);
        });
        var subscriber = Task.Run(async () =>
        {
            // Subscribes while messages are published, then unsubscribes while others still are.
            var late = bus.Subscribe<int>(Topic, async (message, _) =>
            {
                Specification.Assert(!Volatile.Read(ref lateDisposed), "message {0} was handled after the late subscription's DisposeAsync completed", message.Message);
                ledger.Record(message.Message, "late");
                await Task.Yield();
                Specification.Assert(!Volatile.Read(ref lateDisposed), "the late subscription's DisposeAsync completed while its handler ran message {0}", message.Message);
            });
            await Task.Yield();
            await late.DisposeAsync();
            Volatile.Write(ref lateDisposed, true);
            Specification.Assert(!late.IsActive, "the late subscription is still active after DisposeAsync");
        });

        await Task.WhenAll(new[] { firstPublisher, secondPublisher, subscriber });
        await steady.DisposeAsync();
        await bus.DisposeAsync();

        Specification.Assert(droppedMessages == 0, "{0} messages were dropped, none expected", droppedMessages);
        for (var id = 1; id <= 3; id++)
        {
            PublishResult result;
            lock (results)
            {
                result = results[id];
            }

            var steadyCount = ledger.Count(id, "steady");
            var lateCount = ledger.Count(id, "late");
            Specification.Assert(steadyCount == 1, "message {0} handled {1} times by the steady subscriber; {2}", id, steadyCount, ledger.DescribeAll());
            Specification.Assert(lateCount <= 1, "message {0} handled {1} times by the late subscriber; {2}", id, lateCount, ledger.DescribeAll());
            Specification.Assert(
                result.Accepted == steadyCount + lateCount && result.Matched >= result.Accepted && result.Rejected == 0 && result.Dropped == 0,
                "message {0}: {1} but handlers ran steady={2} late={3}", id, result, steadyCount, lateCount);
        }
    }
}
