using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>CoordinationBus under many publishers, failing handlers, full mailboxes, subscribe/unsubscribe churn and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class CoordinationBusStressTests(ITestOutputHelper output)
{
    private static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    [Fact]
    public async Task Every_delivered_message_is_handled_failed_or_dropped_exactly_once()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            QueueFullMode mode = Modes[round % Modes.Length];
            Ledger ledger = await RunRoundAsync(seed, mode, StressProfile.Items);
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "CoordinationBus", $"seed={seed} mode={mode} {ledger.Summary()}");
        }

        monitor.CollectAndAssertNone("CoordinationBus");
        StressReport.Write(output, "CoordinationBus", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} unobserved=0");
    }

    private static async Task<Ledger> RunRoundAsync(int seed, QueueFullMode mode, int items)
    {
        const int Capacity = 32;
        const int Publishers = 8;
        var ledger = new Ledger(items);
        string context = $"CoordinationBus seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        var traces = new System.Collections.Concurrent.ConcurrentDictionary<int, System.Collections.Concurrent.ConcurrentQueue<string>>();
        void Trace(int id, string what) => traces.GetOrAdd(id, _ => new()).Enqueue(what);
        var noSubscriber = new System.Collections.Concurrent.ConcurrentBag<int>();
        var results = new System.Collections.Concurrent.ConcurrentDictionary<int, PublishResult>();
        var bus = Exec.Bus()
            .WithMailbox(Capacity, mode)
            .OnDropped(dropped =>
            {
                // The ledger is per (subscription, message): the churn subscribers' own drops are not the ledgered ones.
                Trace((int)dropped.Message!, $"OnDropped({dropped.Reason}, sub={dropped.SubscriptionName}, msgId={dropped.MessageId})");
                if (dropped.SubscriptionName == "ledgered")
                {
                    ledger.End((int)dropped.Message!, Outcome.Dropped);
                }
            })
            .OnDeadLetter(dead =>
            {
                if (dead.Reason == DeadLetterReason.HandlerFailed && dead.SubscriptionName == "ledgered")
                {
                    ledger.End((int)dead.Message!, Outcome.Failed);
                }
                else if (dead.Reason == DeadLetterReason.NoSubscribers)
                {
                    noSubscriber.Add((int)dead.Message!);
                }
            })
            .Build();

        // The ledgered subscription: every message it accepts must be handled, failed or dropped exactly once.
        using Subscription ledgered = bus.Subscribe<int>(
            "stress.items",
            async (message, ct) =>
            {
                ledger.Started(message.Message);
                await Task.Yield();
                if (message.Message % 13 == 7)
                {
                    throw ledger.Fault(message.Message);
                }

                ledger.Completed(message.Message);
                ledger.End(message.Message, Outcome.Succeeded);
            },
            new SubscriptionOptions { MaxConcurrency = 3, Name = "ledgered" });

        int ended = 0;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int disposeAfter = items * 3 / 4;

        async Task PublishAsync(int publisher)
        {
            var random = new Random(seed * 31 + publisher);
            for (int id = publisher; id < items; id += Publishers)
            {
                try
                {
                    if (random.Next(50) == 0)
                    {
                        // Churn: short-lived subscribers change the subscription set during publishing (on their own topic, so the
                        // ledger of the "ledgered" subscription stays exact).
                        Subscription churn = bus.Subscribe<int>("churn.>", _ => { });
                        await churn.DisposeAsync();
                    }

                    PublishResult result = await bus.PublishAsync("stress.items", id);
                    results[id] = result;
                    if (result.Delivered == 0 && result.Rejected == 0)
                    {
                        // Matched a subscription that closed before it took the message (dispose): the publisher is
                        // told NotDelivered and the message is dead-lettered; that is its one ending.
                        Trace(id, $"publish {result}");
                        ledger.End(id, Outcome.Dropped);
                    }
                    if (Interlocked.Increment(ref ended) == disposeAfter)
                    {
                        disposeStarted.TrySetResult();
                    }
                }
                catch (ObjectDisposedException)
                {
                    ledger.End(id, Outcome.Refused);
                }
            }
        }

        Task publishers = Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(() => PublishAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await bus.DisposeAsync().WithTimeout();
        await publishers.WithTimeout();

        CoordinationBusStatistics statistics = bus.GetStatistics();
        Assert.True(statistics.MailboxDepth == 0, $"{context}: mailbox depth {statistics.MailboxDepth} after dispose");
        string unended = string.Join(", ", Enumerable.Range(0, items).Where(id => ledger.Unended(id)).Take(5)
            .Select(id => $"{id}: publish={(results.TryGetValue(id, out PublishResult r) ? r.ToString() : "none")} noSubscriberDeadLetter={noSubscriber.Contains(id)}"));
        string traced = string.Join(" | ", traces.Where(t => t.Value.Count > 1).Take(3).Select(t => $"{t.Key}: {string.Join(", ", t.Value)}"));
        ledger.AssertConsistent(context + " " + unended + " traces: " + traced);
        return ledger;
    }
}
