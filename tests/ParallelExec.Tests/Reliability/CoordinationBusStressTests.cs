using CsCheck;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>CoordinationBus under many publishers, failing handlers, full mailboxes, subscribe/unsubscribe churn and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class CoordinationBusStressTests(ITestOutputHelper output)
{
    /// <summary>One message of a generated schedule.</summary>
    /// <param name="Fault">Whether the ledgered handler throws for it (it must end as a dead letter).</param>
    /// <param name="ChurnBefore">Whether its publisher creates and disposes a short-lived subscriber before publishing it.</param>
    /// <param name="YieldAfter">Whether its publisher yields after publishing it.</param>
    public readonly record struct Item(bool Fault, bool ChurnBefore, bool YieldAfter);

    /// <summary>One round: mailbox mode, the messages, the handler concurrency, the dispose point.</summary>
    public sealed record Schedule(QueueFullMode Mode, Item[] Items, int MaxDegreeOfParallelism, double DisposeAt);

    private static readonly Gen<Item> ItemGen =
        from fault in Gen.Int[0, 12].Select(i => i == 0)
        from churn in Gen.Int[0, 49].Select(i => i == 0)
        from yieldAfter in StressGen.ProducerYield
        select new Item(fault, churn, yieldAfter);

    private static readonly Gen<Schedule> ScheduleGen =
        from mode in StressGen.QueueMode
        from items in ItemGen.Array[StressProfile.Items]
        from concurrency in Gen.Int[1, 4]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, items, concurrency, disposeAt);

    private static string Describe(Schedule s) =>
        $"mode={s.Mode} items={s.Items.Length} maxDegreeOfParallelism={s.MaxDegreeOfParallelism} disposeAt={s.DisposeAt:P0} faults={s.Items.Count(i => i.Fault)} churn={s.Items.Count(i => i.ChurnBefore)}";

    [Fact]
    public async Task Every_delivered_message_is_handled_failed_or_dropped_exactly_once()
    {
        using var monitor = new UnobservedExceptionMonitor();
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "CoordinationBus");
        await StressRun.RoundsAsync("CoordinationBus", ScheduleGen, async (schedule, seed) =>
        {
            Ledger ledger = await RunRoundAsync(schedule, seed);
            totals.Cover(schedule.Mode);
            totals.Add(ledger, $"seed={seed} mode={schedule.Mode} maxDegreeOfParallelism={schedule.MaxDegreeOfParallelism} {ledger.Summary()}");
        }, Describe, (s, r) => s.Mode == StressGen.Modes[r % 4], retained);

        monitor.CollectAndAssertNone("CoordinationBus");
        totals.WriteTotal("unobserved=0");
        await retained.AssertBoundedAsync(output, "CoordinationBus", WorkerPoolStressTests.RetainedBound);
        totals.AssertCoveredEvery(4, "queue mode");
    }

    [Fact]
    public async Task Memory_per_item_stays_bounded()
    {
        await using var bus = Exec.Bus().WithQueue(64, QueueFullMode.Wait).Build();
        int handled = 0;
        using Subscription subscription = bus.Subscribe<int>("memory.items", _ => Interlocked.Increment(ref handled), new SubscriptionOptions { MaxDegreeOfParallelism = 3 });
        int published = 0;
        MemoryFigures figures = await MemoryProbe.MeasureAsync(
            id =>
            {
                Interlocked.Increment(ref published);
                return bus.PublishAsync("memory.items", id);
            },
            settle: _ => TestTimeout.WaitUntilAsync(() => Volatile.Read(ref handled) == Volatile.Read(ref published)));
        MemoryProbe.AssertBounded(output, "CoordinationBus", figures, maxBytesPerItem: 1024, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    private static async Task<Ledger> RunRoundAsync(Schedule schedule, string seed)
    {
        const int Capacity = 32;
        const int Publishers = 8;
        QueueFullMode mode = schedule.Mode;
        int items = schedule.Items.Length;
        var ledger = new Ledger(items);
        string context = $"CoordinationBus seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        var traces = new System.Collections.Concurrent.ConcurrentDictionary<int, System.Collections.Concurrent.ConcurrentQueue<string>>();
        void Trace(int id, string what) => traces.GetOrAdd(id, _ => new()).Enqueue(what);
        var noSubscriber = new System.Collections.Concurrent.ConcurrentBag<int>();
        var results = new System.Collections.Concurrent.ConcurrentDictionary<int, PublishResult>();
        var bus = Exec.Bus()
            .WithQueue(Capacity, mode)
            .OnDropped(dropped =>
            {
                // The ledger is per (subscription, message): only the ledgered subscription listens on stress.items (the
                // churn subscribers listen on churn.>, where nothing is published), so the topic names the subscriber.
                Trace((int)dropped.Item!, $"OnDropped({dropped.Reason}, topic={dropped.Key})");
                if ((string?)dropped.Key == "stress.items")
                {
                    ledger.End((int)dropped.Item!, Outcome.Dropped);
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
        RetainedAcrossRounds.Track(bus);

        // The ledgered subscription: every message it accepts must be handled, failed or dropped exactly once.
        using Subscription ledgered = bus.Subscribe<int>(
            "stress.items",
            async (message, ct) =>
            {
                ledger.Started(message.Message);
                await Task.Yield();
                if (schedule.Items[message.Message].Fault)
                {
                    throw ledger.Fault(message.Message);
                }

                ledger.Completed(message.Message);
                ledger.End(message.Message, Outcome.Succeeded);
            },
            new SubscriptionOptions { MaxDegreeOfParallelism = schedule.MaxDegreeOfParallelism, Name = "ledgered" });

        int ended = 0;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int disposeAfter = (int)(items * schedule.DisposeAt);

        async Task PublishAsync(int publisher)
        {
            for (int id = publisher; id < items; id += Publishers)
            {
                try
                {
                    Item item = schedule.Items[id];
                    if (item.ChurnBefore)
                    {
                        // Churn: short-lived subscribers change the subscription set during publishing (on their own topic, so the
                        // ledger of the "ledgered" subscription stays exact).
                        Subscription churn = bus.Subscribe<int>("churn.>", _ => { });
                        await churn.DisposeAsync();
                    }

                    PublishResult result = await bus.PublishAsync("stress.items", id);
                    results[id] = result;
                    if (result.Accepted == 0 && result.Rejected == 0)
                    {
                        // Matched a subscription that closed before it took the message (dispose): the publisher is
                        // told NoneAccepted and the message is dead-lettered; that is its one ending.
                        Trace(id, $"publish {result}");
                        ledger.End(id, Outcome.Dropped);
                    }
                    if (Interlocked.Increment(ref ended) == disposeAfter)
                    {
                        disposeStarted.TrySetResult();
                    }

                    if (item.YieldAfter)
                    {
                        await Task.Yield();
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
        await StressDraw.DisposeBoundedAsync(() => bus.DisposeAsync());
        await publishers.WithTimeout();

        CoordinationBusStatistics statistics = bus.GetStatistics();
        Assert.True(statistics.Ledger.Queued == 0, $"{context}: {statistics.Ledger.Queued} queued after dispose");
        string unended = string.Join(", ", Enumerable.Range(0, items).Where(id => ledger.Unended(id)).Take(5)
            .Select(id => $"{id}: publish={(results.TryGetValue(id, out PublishResult r) ? r.ToString() : "none")} noSubscriberDeadLetter={noSubscriber.Contains(id)}"));
        string traced = string.Join(" | ", traces.Where(t => t.Value.Count > 1).Take(3).Select(t => $"{t.Key}: {string.Join(", ", t.Value)}"));
        ledger.AssertConsistent(context + " " + unended + " traces: " + traced);
        return ledger;
    }
}
