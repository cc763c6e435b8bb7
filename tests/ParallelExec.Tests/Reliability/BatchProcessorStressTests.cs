using CsCheck;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>BatchProcessor under many producers, poison items, random batch faults, cancellations and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class BatchProcessorStressTests(ITestOutputHelper output)
{
    /// <summary>One item of a generated schedule.</summary>
    /// <param name="Poison">Whether the item fails every batch it is in (Bisect isolates it, FailAll fails the batch).</param>
    /// <param name="Cancel">How its submitter cancels it.</param>
    /// <param name="CancelDelayMs">The delay of <see cref="CancelKind.AfterDelay"/>.</param>
    /// <param name="YieldAfter">Whether its producer yields after submitting it.</param>
    public readonly record struct Item(bool Poison, CancelKind Cancel, byte CancelDelayMs, bool YieldAfter);

    /// <summary>One round: queue mode, failure mode, the items, the transient fault of each handler call in call order, the dispose point.</summary>
    public sealed record Schedule(QueueFullMode Mode, BatchFailureMode FailureMode, Item[] Items, bool[] TransientFaults, double DisposeAt);

    private static readonly Gen<Item> ItemGen =
        from poison in Gen.Int[0, 36].Select(i => i == 0)
        from cancel in StressGen.Cancellation
        from yieldAfter in StressGen.ProducerYield
        select new Item(poison, cancel.Kind, cancel.DelayMs, yieldAfter);

    private static readonly Gen<Schedule> ScheduleGen =
        from mode in StressGen.QueueMode
        from failureMode in StressGen.OneOf(BatchFailureMode.Bisect, BatchFailureMode.FailAll)
        from items in ItemGen.Array[StressProfile.Items]
        // About one handler call in ten fails transiently (FailAll only: under Bisect a transient fault would be retried on halves).
        from transient in Gen.Int[0, 9].Select(i => i == 0).Array[StressProfile.Items]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, failureMode, items, transient, disposeAt);

    private static string Describe(Schedule s) =>
        $"mode={s.Mode} failure={s.FailureMode} items={s.Items.Length} disposeAt={s.DisposeAt:P0} poison={s.Items.Count(i => i.Poison)} " +
        $"cancel[{StressGen.Histogram(s.Items.Select(i => i.Cancel))}] transientFaultSlots={s.TransientFaults.Count(t => t)}";

    [Fact]
    public async Task Every_item_ends_exactly_once_under_faults_cancellation_and_dispose()
    {
        using var monitor = new UnobservedExceptionMonitor();
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "BatchProcessor");
        await StressRun.RoundsAsync("BatchProcessor", ScheduleGen, async (schedule, seed) =>
        {
            Ledger ledger = await RunRoundAsync(schedule, seed);
            totals.Cover(schedule.Mode, schedule.FailureMode);
            totals.Add(ledger, $"seed={seed} mode={schedule.Mode} failure={schedule.FailureMode} {ledger.Summary()}");
        }, Describe, (s, r) => s.Mode == StressGen.Modes[r % 4] && s.FailureMode == (r / 4 % 2 == 0 ? BatchFailureMode.Bisect : BatchFailureMode.FailAll), retained);

        monitor.CollectAndAssertNone("BatchProcessor");
        totals.WriteTotal(StressProfile.Million, "unobserved=0");
        await retained.AssertBoundedAsync(output, "BatchProcessor", WorkerPoolStressTests.RetainedBound);
        totals.AssertCoveredEvery(4 + 2, "queue mode and failure mode");
    }

    [Fact]
    public async Task Memory_per_item_stays_bounded()
    {
        await using var processor = Exec.Batch<int, int>(static (batch, ct) =>
            {
                var results = new int[batch.Count];
                for (int i = 0; i < batch.Count; i++)
                {
                    results[i] = batch[i];
                }

                return new ValueTask<IReadOnlyList<int>>(results);
            })
            .WithMaxBatchSize(16)
            .WithMaxDelay(TimeSpan.FromMilliseconds(2))
            .WithMaxDegreeOfParallelism(3)
            .WithQueue(64, QueueFullMode.Wait)
            .Build();
        MemoryFigures figures = await MemoryProbe.MeasureAsync(id => processor.SubmitAsync(id));
        MemoryProbe.AssertBounded(output, "BatchProcessor", figures, maxBytesPerItem: 256, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    private static async Task<Ledger> RunRoundAsync(Schedule schedule, string seed)
    {
        const int Capacity = 64;
        const int Producers = 8;
        QueueFullMode mode = schedule.Mode;
        BatchFailureMode failureMode = schedule.FailureMode;
        int items = schedule.Items.Length;
        var ledger = new Ledger(items);
        string context = $"BatchProcessor seed={seed} mode={mode} failure={failureMode} (replay with PARALLELEXEC_SEED={seed})";
        int handlerCalls = -1;
        var processor = Exec.Batch<int, int>(async (batch, ct) =>
            {
                foreach (int id in batch)
                {
                    ledger.Saw(id);
                }

                await Task.Yield();
                // The schedule's fault slots are taken in call order; which batch takes a slot depends on the interleaving.
                int call = Interlocked.Increment(ref handlerCalls);
                bool transient = failureMode == BatchFailureMode.FailAll && schedule.TransientFaults[call % schedule.TransientFaults.Length];

                // Poison items fail every batch they are in; Bisect isolates them, FailAll fails the batch.
                int poison = batch.FirstOrDefault(id => schedule.Items[id].Poison, -1);
                if (poison >= 0 || transient)
                {
                    throw ledger.Fault(poison >= 0 ? poison : batch[0]);
                }

                var results = new int[batch.Count];
                for (int i = 0; i < batch.Count; i++)
                {
                    results[i] = batch[i] * 2;
                    ledger.Completed(batch[i]);
                }

                return results;
            })
            .WithMaxBatchSize(16)
            .WithMaxDelay(TimeSpan.FromMilliseconds(2))
            .WithMaxDegreeOfParallelism(3)
            .WithQueue(Capacity, mode)
            .WithFailureMode(failureMode)
            .Build();
        RetainedAcrossRounds.Track(processor);

        int ended = 0;
        int disposeAfter = (int)(items * schedule.DisposeAt);
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task SubmitAsync(int id, CancellationToken cancellationToken)
        {
            try
            {
                int result = await processor.SubmitAsync(id, cancellationToken);
                Assert.Equal(id * 2, result);
                ledger.End(id, Outcome.Succeeded);
            }
            catch (Exception exception)
            {
                ledger.EndWith(id, exception);
            }
            finally
            {
                if (Interlocked.Increment(ref ended) == disposeAfter)
                {
                    disposeStarted.TrySetResult();
                }
            }
        }

        async Task ProduceAsync(int producer)
        {
            var calls = new List<Task>();
            for (int id = producer; id < items; id += Producers)
            {
                Item item = schedule.Items[id];
                calls.Add(SubmitAsync(id, ledger.Token(id, item.Cancel, item.CancelDelayMs)));
                if (item.YieldAfter)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await StressDraw.DisposeBoundedAsync(() => processor.DisposeAsync());
        await producers.WithTimeout();
        BatchProcessorStatistics statistics = processor.GetStatistics();
        Assert.True(statistics.Ledger.Queued == 0 && statistics.RunningBatches == 0, $"{context}: queued={statistics.Ledger.Queued} running={statistics.RunningBatches} after dispose");
        ledger.AssertConsistent(context);
        ledger.DisposeSources();
        return ledger;
    }
}
