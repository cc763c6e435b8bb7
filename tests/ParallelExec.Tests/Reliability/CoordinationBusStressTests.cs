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
    /// <param name="Cancel">How its publisher cancels the publish (a wait for room in a full Wait mailbox is cancellable).</param>
    /// <param name="CancelDelayMs">The delay of <see cref="CancelKind.AfterDelay"/>.</param>
    public readonly record struct Item(bool Fault, bool ChurnBefore, bool YieldAfter, CancelKind Cancel, byte CancelDelayMs);

    /// <summary>One round: mailbox mode, the messages, the handler concurrency, the dispose point.</summary>
    public sealed record Schedule(QueueFullMode Mode, Item[] Items, int MaxDegreeOfParallelism, double DisposeAt);

    private static readonly Gen<Item> ItemGen =
        from fault in Gen.Int[0, 12].Select(i => i == 0)
        from churn in Gen.Int[0, 49].Select(i => i == 0)
        from yieldAfter in StressGen.ProducerYield
        from cancel in StressGen.Frequency((88, CancelKind.None), (4, CancelKind.Before), (8, CancelKind.AfterDelay))
        from delay in Gen.Byte[0, 2]
        select new Item(fault, churn, yieldAfter, cancel, delay);

    private static readonly Gen<Schedule> ScheduleGen =
        from mode in StressGen.QueueMode
        from items in ItemGen.Array[StressProfile.Items]
        from concurrency in Gen.Int[1, 4]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, items, concurrency, disposeAt);

    private static string Describe(Schedule s) =>
        $"mode={s.Mode} items={s.Items.Length} maxDegreeOfParallelism={s.MaxDegreeOfParallelism} disposeAt={s.DisposeAt:P0} faults={s.Items.Count(i => i.Fault)} churn={s.Items.Count(i => i.ChurnBefore)} cancel[{StressGen.Histogram(s.Items.Select(i => i.Cancel))}]";

    [Fact]
    public async Task Every_delivered_message_is_handled_failed_cancelled_or_dropped_exactly_once()
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
        totals.WriteTotal(StressProfile.Million, "unobserved=0");
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
        int noSubscriberDeadLetters = 0, unexpectedDrops = 0;
        var bus = Exec.Bus()
            .WithQueue(Capacity, mode)
            .OnDropped(dropped =>
            {
                // The ledger is per (subscription, message): only the ledgered subscription listens on stress.items (the
                // churn subscribers listen on churn.>, where nothing is published), so the topic names the subscriber.
                if ((string?)dropped.Key != "stress.items")
                {
                    Interlocked.Increment(ref unexpectedDrops);
                }
                else if (dropped.Reason == DropReason.Cancelled)
                {
                    // A publish whose wait for room was cancelled: its publisher also sees OperationCanceledException,
                    // which is the item's one ending; this report is cross-checked against it by id.
                    ledger.ReportedCancelled((int)dropped.Item!);
                }
                else
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
                    Interlocked.Increment(ref noSubscriberDeadLetters);
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
                Item item = schedule.Items[id];
                try
                {
                    if (item.ChurnBefore)
                    {
                        // Churn: short-lived subscribers change the subscription set during publishing (on their own topic, so the
                        // ledger of the "ledgered" subscription stays exact).
                        Subscription churn = bus.Subscribe<int>("churn.>", _ => { });
                        await churn.DisposeAsync();
                    }

                    PublishResult result = await bus.PublishAsync("stress.items", id, ledger.Token(id, item.Cancel, item.CancelDelayMs));
                    if (result.Accepted == 0 && result.Rejected == 0)
                    {
                        // Matched a subscription that closed before it took the message (dispose): the publisher is
                        // told NoneAccepted and the message is dead-lettered; that is its one ending.
                        ledger.End(id, Outcome.Dropped);
                    }
                }
                catch (ObjectDisposedException)
                {
                    ledger.End(id, Outcome.Refused);
                }
                catch (OperationCanceledException)
                {
                    // Cancelled before it was offered (no report), or while waiting for room in the full mailbox (the
                    // bus reported it to OnDropped as Cancelled: cross-checked below).
                    ledger.End(id, Outcome.Cancelled);
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
        }

        Task publishers = Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(() => PublishAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await StressDraw.DisposeBoundedAsync(() => bus.DisposeAsync());
        await publishers.WithTimeout();

        CoordinationBusStatistics statistics = bus.GetStatistics();
        Assert.True(statistics.Ledger.Queued == 0, $"{context}: {statistics.Ledger.Queued} queued after dispose");
        Assert.True(unexpectedDrops == 0, $"{context}: {unexpectedDrops} drops reported for a topic nobody published to");
        ledger.AssertConsistent(context);

        // A cancelled publish the bus did not report never reached the mailbox: its handler never ran. One it reported
        // ended cancelled (checked by the ledger), and the subscription counted exactly the reported ones.
        int reported = 0;
        for (int id = 0; id < items; id++)
        {
            if (ledger.WasReportedCancelled(id))
            {
                reported++;
            }
            else if (ledger.OutcomeOf(id) == Outcome.Cancelled && ledger.HasStarted(id))
            {
                Assert.Fail($"{context}: item {id}'s publish was cancelled without a report, yet its handler ran");
            }
        }

        Assert.True(ledgered.Ledger.Cancelled == reported, $"{context}: the subscription counted {ledgered.Ledger.Cancelled} cancelled waits, OnDropped reported {reported}");
        if (mode != QueueFullMode.Wait)
        {
            // Only a wait for room is cancellable once the message is offered: the other modes never wait.
            Assert.True(reported == 0, $"{context}: {reported} cancellations reported in {mode} mode, which never waits");
        }

        ledger.DisposeSources();
        return ledger;
    }
}
