using CsCheck;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>AgentPool with in-process DelegateAgents under many producers, agent faults, unhealthy agents, cancellations and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class AgentPoolStressTests(ITestOutputHelper output)
{
    /// <summary>One request of a generated schedule.</summary>
    /// <param name="Fault">Whether the agent throws for it.</param>
    /// <param name="MarkUnhealthy">Whether the agent marks itself unhealthy while serving it (the pool must retire it).</param>
    /// <param name="Yield">Whether the agent yields before replying.</param>
    /// <param name="Cancel">How its submitter cancels it.</param>
    /// <param name="CancelDelayMs">The delay of <see cref="CancelKind.AfterDelay"/>.</param>
    /// <param name="YieldAfter">Whether its producer yields after submitting it.</param>
    public readonly record struct Item(bool Fault, bool MarkUnhealthy, bool Yield, CancelKind Cancel, byte CancelDelayMs, bool YieldAfter);

    /// <summary>One round: queue mode, pool shape, the requests, the dispose point.</summary>
    public sealed record Schedule(QueueFullMode Mode, int MaxAgents, int ConcurrencyPerAgent, Item[] Items, double DisposeAt);

    private static readonly Gen<Item> ItemGen =
        from fault in Gen.Int[0, 10].Select(i => i == 0)
        from unhealthy in Gen.Int[0, 96].Select(i => i == 0)
        from yields in StressGen.Frequency((90, true), (10, false))
        from cancel in StressGen.Cancellation
        from yieldAfter in StressGen.ProducerYield
        select new Item(fault, unhealthy, yields, cancel.Kind, cancel.DelayMs, yieldAfter);

    private static readonly Gen<Schedule> ScheduleGen =
        from mode in StressGen.QueueMode
        from agents in Gen.Int[1, 4]
        from perAgent in Gen.Int[1, 3]
        from items in ItemGen.Array[StressProfile.Items]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, agents, perAgent, items, disposeAt);

    private static string Describe(Schedule s) =>
        $"mode={s.Mode} agents={s.MaxAgents}x{s.ConcurrencyPerAgent} items={s.Items.Length} disposeAt={s.DisposeAt:P0} faults={s.Items.Count(i => i.Fault)} " +
        $"unhealthy={s.Items.Count(i => i.MarkUnhealthy)} cancel[{StressGen.Histogram(s.Items.Select(i => i.Cancel))}]";

    [Fact]
    public async Task Every_request_ends_exactly_once_under_faults_cancellation_and_dispose()
    {
        using var monitor = new UnobservedExceptionMonitor();
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "AgentPool");
        int peak = 0;
        await StressRun.RoundsAsync("AgentPool", ScheduleGen, async (schedule, seed) =>
        {
            (Ledger ledger, int roundPeak) = await RunRoundAsync(schedule, seed);
            peak = Math.Max(peak, roundPeak);
            totals.Cover(schedule.Mode);
            totals.Add(ledger, $"seed={seed} mode={schedule.Mode} agents={schedule.MaxAgents}x{schedule.ConcurrencyPerAgent} {ledger.Summary()}");
        }, Describe, (s, r) => s.Mode == StressGen.Modes[r % 4], retained);

        monitor.CollectAndAssertNone("AgentPool");
        totals.WriteTotal(StressProfile.Million, $"peakQueue={peak} unobserved=0");
        await retained.AssertBoundedAsync(output, "AgentPool", WorkerPoolStressTests.RetainedBound);
        totals.AssertCoveredEvery(4, "queue mode");
    }

    [Fact]
    public async Task Memory_per_item_stays_bounded()
    {
        int agents = 0;
        await using var pool = Exec.Agents<DelegateAgent>((spec, ct) =>
                ValueTask.FromResult(new DelegateAgent($"agent-{Interlocked.Increment(ref agents)}", static (request, token) => new ValueTask<string>(request))))
            .WithMaxAgents(3)
            .WithMaxConcurrencyPerAgent(2)
            .WithQueue(32, QueueFullMode.Wait)
            .Build();
        // The request strings exist before the measurement: they are the caller's data, not the pool's cost.
        string[] requests = Enumerable.Range(0, MemoryProbe.Items).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        MemoryFigures figures = await MemoryProbe.MeasureAsync(id => pool.RunAsync(requests[id]));
        MemoryProbe.AssertBounded(output, "AgentPool", figures, maxBytesPerItem: 128, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    private static async Task<(Ledger, int)> RunRoundAsync(Schedule schedule, string seed)
    {
        QueueFullMode mode = schedule.Mode;
        int items = schedule.Items.Length;
        const int Capacity = 32;
        const int Producers = 8;
        var ledger = new Ledger(items);
        string context = $"AgentPool seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        int agents = 0;
        var pool = Exec.Agents<DelegateAgent>((spec, ct) =>
            {
                string agentId = $"agent-{Interlocked.Increment(ref agents)}";
                DelegateAgent? self = null;
                self = new DelegateAgent(agentId, async (request, token) =>
                {
                    int id = int.Parse(request, System.Globalization.CultureInfo.InvariantCulture);
                    ledger.Started(id);
                    Item item = schedule.Items[id];
                    if (item.Yield)
                    {
                        await Task.Yield();
                    }

                    if (item.Fault)
                    {
                        throw ledger.Fault(id);
                    }

                    if (item.MarkUnhealthy)
                    {
                        // The pool must retire this agent and spawn another after the reply.
                        self!.MarkUnhealthy();
                    }

                    ledger.Completed(id);
                    return request;
                });
                return ValueTask.FromResult(self);
            })
            .WithMaxAgents(schedule.MaxAgents)
            .WithMaxConcurrencyPerAgent(schedule.ConcurrencyPerAgent)
            .WithQueue(Capacity, mode)
            .Build();
        RetainedAcrossRounds.Track(pool);

        int ended = 0;
        int disposeAfter = (int)(items * schedule.DisposeAt);
        int peak = 0;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task SubmitAsync(int id, CancellationToken cancellationToken)
        {
            try
            {
                string reply = await pool.RunAsync(id.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
                Assert.Equal(id.ToString(System.Globalization.CultureInfo.InvariantCulture), reply);
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
                // The ledger's Queued counts, in Wait mode, the callers waiting for room too (they are the callers' own
                // awaits, not queue memory); the bounded queue is what the other modes show.
                // Sampled (a snapshot per item would cost more than the item).
                if (mode != QueueFullMode.Wait && (id & 63) < Producers)
                {
                    StressDraw.InterlockedMax(ref peak, (int)pool.GetStatistics().Ledger.Queued);
                }
                if (item.YieldAfter)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await StressDraw.DisposeBoundedAsync(() => pool.DisposeAsync());
        await producers.WithTimeout();
        Assert.True(peak <= Capacity, $"{context}: sampled queue length {peak} > capacity {Capacity}");
        ledger.AssertConsistent(context);
        Assert.True(pool.GetStatistics().Ledger.Cancelled == ledger.Count(Outcome.Cancelled), $"{context}: the pool counted {pool.GetStatistics().Ledger.Cancelled} cancelled, the callers saw {ledger.Count(Outcome.Cancelled)}");
        ledger.DisposeSources();
        return (ledger, peak);
    }
}
