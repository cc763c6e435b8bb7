using CsCheck;
using ParallelExec.Net;
using ParallelExec.Tests.Net;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// HttpGate over loopback HTTP (a real Kestrel server, <see cref="LoopbackServer"/>) under many producers on two
/// providers, faults, priorities, cancellations and a dispose mid-flight: every call is a real GET (SendAsync, or
/// RunAsync whose call sends a GET and then fails), its body checked against the item id, and the server measures the
/// concurrency the gate let through.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class HttpGateStressTests(ITestOutputHelper output)
{
    /// <summary>One call of a generated schedule.</summary>
    /// <param name="Provider">The provider it goes to ("a" or "b").</param>
    /// <param name="Priority">Its priority (0-2).</param>
    /// <param name="Fault">Whether the call throws.</param>
    /// <param name="Cancel">How its submitter cancels it.</param>
    /// <param name="CancelDelayMs">The delay of <see cref="CancelKind.AfterDelay"/>.</param>
    /// <param name="YieldAfter">Whether its producer yields after submitting it.</param>
    public readonly record struct Item(bool Provider, byte Priority, bool Fault, CancelKind Cancel, byte CancelDelayMs, bool YieldAfter);

    /// <summary>One round: queue mode, the calls, the dispose point.</summary>
    public sealed record Schedule(QueueFullMode Mode, Item[] Items, double DisposeAt);

    private static readonly Gen<Item> ItemGen =
        from provider in Gen.Bool
        from priority in Gen.Byte[0, 2]
        from fault in Gen.Int[0, 16].Select(i => i == 0)
        from cancel in StressGen.Cancellation
        from yieldAfter in StressGen.ProducerYield
        select new Item(provider, priority, fault, cancel.Kind, cancel.DelayMs, yieldAfter);

    private static readonly Gen<Schedule> ScheduleGen =
        from mode in StressGen.QueueMode
        from items in ItemGen.Array[StressProfile.Items]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, items, disposeAt);

    // The statistics-peak regression needs many admissions racing, not a million items.
    private static readonly Gen<Schedule> SmallScheduleGen =
        from mode in StressGen.QueueMode
        from items in ItemGen.Array[8_000]
        from disposeAt in StressGen.DisposePoint
        select new Schedule(mode, items, disposeAt);

    private static string Describe(Schedule s) =>
        $"mode={s.Mode} items={s.Items.Length} disposeAt={s.DisposeAt:P0} faults={s.Items.Count(i => i.Fault)} priorities[{StressGen.Histogram(s.Items.Select(i => i.Priority))}] " +
        $"cancel[{StressGen.Histogram(s.Items.Select(i => i.Cancel))}]";

    [Fact]
    public async Task Every_call_ends_exactly_once_within_the_concurrency_bound()
    {
        await using LoopbackServer server = await LoopbackServer.StartAsync();
        using var monitor = new UnobservedExceptionMonitor();
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "HttpGate");
        int peak = 0;
        await StressRun.RoundsAsync("HttpGate", ScheduleGen, async (schedule, seed) =>
        {
            (Ledger ledger, int roundPeak) = await RunRoundAsync(server, schedule, seed);
            peak = Math.Max(peak, roundPeak);
            totals.Cover(schedule.Mode);
            totals.Add(ledger, $"seed={seed} mode={schedule.Mode} {ledger.Summary()} peakInFlight={roundPeak}");
        }, Describe, (s, r) => s.Mode == StressGen.Modes[r % 4], retained);

        monitor.CollectAndAssertNone("HttpGate");
        totals.WriteTotal(StressProfile.Million, $"peakInFlight={peak} serverPeakInFlight={server.PeakInFlight} httpRequests={server.RequestsFor("a") + server.RequestsFor("b")} unobserved=0");
        await retained.AssertBoundedAsync(output, "HttpGate", WorkerPoolStressTests.RetainedBound);
        totals.AssertCoveredEvery(4, "queue mode");
    }

    [Fact]
    public async Task Memory_per_item_stays_bounded()
    {
        await using var gate = Exec.Http()
            .AddProvider("a", new ProviderLimits())
            .AddProvider("b", new ProviderLimits())
            .WithMaxDegreeOfParallelism(4)
            .WithQueue(32, QueueFullMode.Wait)
            .Build();
        Func<CancellationToken, ValueTask<int>> call = static _ => new ValueTask<int>(1);
        MemoryFigures figures = await MemoryProbe.MeasureAsync(id => new ValueTask<int>(gate.RunAsync(id % 2 == 0 ? "a" : "b", call, weight: 1, priority: id % 3)));
        MemoryProbe.AssertBounded(output, "HttpGate", figures, maxBytesPerItem: 768, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    /// <summary>
    /// Regression: HttpGate.Release once handed the concurrency permit back before it uncounted the call, so another
    /// admission could count itself first and <see cref="HttpGateStatistics.PeakInFlight"/> (and the in-flight gauge)
    /// briefly exceeded MaxDegreeOfParallelism while the real concurrency stayed bounded. Found by this suite; fixed in HttpGate.
    /// </summary>
    [Fact]
    public async Task Statistics_peak_in_flight_never_exceeds_max_concurrency()
    {
        await using LoopbackServer server = await LoopbackServer.StartAsync();
        await StressRun.RoundsAsync("HttpGate.PeakInFlight", SmallScheduleGen, (schedule, seed) => RunRoundAsync(server, schedule, seed, checkStatisticsPeak: true), Describe, (s, r) => s.Mode == StressGen.Modes[r % 4]);
    }

    private static async Task<(Ledger, int)> RunRoundAsync(LoopbackServer server, Schedule schedule, string seed, bool checkStatisticsPeak = false)
    {
        QueueFullMode mode = schedule.Mode;
        int items = schedule.Items.Length;
        const int MaxDegreeOfParallelism = 4;
        const int Producers = 8;
        var ledger = new Ledger(items);
        string context = $"HttpGate seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        var gate = Exec.Http()
            .AddProvider("a", new ProviderLimits())
            .AddProvider("b", new ProviderLimits())
            .WithMaxDegreeOfParallelism(MaxDegreeOfParallelism)
            .WithQueue(32, mode)
            .Build();
        RetainedAcrossRounds.Track(gate);

        int ended = 0, running = 0, observedPeak = 0;
        int disposeAfter = (int)(items * schedule.DisposeAt);
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task SubmitAsync(int id, int priority, CancellationToken cancellationToken)
        {
            string provider = schedule.Items[id].Provider ? "a" : "b";
            try
            {
                bool fault = schedule.Items[id].Fault;
                if (fault || id % 2 == 1)
                {
                    // RunAsync: the call sends the GET itself (and fails after it when scheduled to); its concurrency
                    // is counted inside the call, before the gate releases the permit.
                    string body = await gate.RunAsync(
                        provider,
                        async ct =>
                        {
                            ledger.Started(id);
                            StressDraw.InterlockedMax(ref observedPeak, Interlocked.Increment(ref running));
                            try
                            {
                                using HttpResponseMessage response = await gate.Client.GetAsync(server.Url(provider, id), ct);
                                string text = await response.Content.ReadAsStringAsync(ct);
                                if (fault)
                                {
                                    throw ledger.Fault(id);
                                }

                                return text;
                            }
                            finally
                            {
                                Interlocked.Decrement(ref running);
                            }
                        },
                        weight: 1,
                        priority: priority,
                        cancellationToken: cancellationToken);
                    Assert.True(body == $"{provider}:{id}", $"item {id}: '{body}'");
                }
                else
                {
                    // SendAsync: the gate sends the request on its own client and buffers the content.
                    using HttpResponseMessage reply = await gate.SendAsync(
                        provider,
                        () =>
                        {
                            ledger.Started(id);
                            return new HttpRequestMessage(HttpMethod.Get, server.Url(provider, id));
                        },
                        weight: 1,
                        priority: priority,
                        cancellationToken: cancellationToken);
                    string body = await reply.Content.ReadAsStringAsync(CancellationToken.None);
                    Assert.True(reply.IsSuccessStatusCode && body == $"{provider}:{id}", $"item {id}: {(int)reply.StatusCode} '{body}'");
                }

                ledger.Completed(id);
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
                calls.Add(SubmitAsync(id, item.Priority, ledger.Token(id, item.Cancel, item.CancelDelayMs)));
                if (item.YieldAfter)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await StressDraw.DisposeBoundedAsync(() => gate.DisposeAsync());
        await producers.WithTimeout();
        HttpGateStatistics statistics = gate.GetStatistics();
        Assert.True(observedPeak <= MaxDegreeOfParallelism, $"{context}: {observedPeak} calls ran at once (measured in the calls), bound {MaxDegreeOfParallelism}");
        if (checkStatisticsPeak)
        {
            Assert.True(statistics.PeakInFlight <= MaxDegreeOfParallelism, $"{context}: statistics PeakInFlight {statistics.PeakInFlight} > {MaxDegreeOfParallelism} (calls measured at most {observedPeak} at once)");
        }

        Assert.True(statistics.Ledger.InFlight == 0 && statistics.Ledger.Queued == 0 && statistics.Ledger.IsBalanced, $"{context}: {statistics.Ledger} after dispose");
        ledger.AssertConsistent(context);
        Assert.True(statistics.Ledger.Cancelled == ledger.Count(Outcome.Cancelled), $"{context}: the gate counted {statistics.Ledger.Cancelled} cancelled, the callers saw {ledger.Count(Outcome.Cancelled)}");
        ledger.DisposeSources();
        return (ledger, observedPeak);
    }
}
