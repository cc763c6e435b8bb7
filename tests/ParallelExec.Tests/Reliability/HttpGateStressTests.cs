using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>HttpGate (RunAsync, no network) under many producers on two providers, faults, priorities, cancellations and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class HttpGateStressTests(ITestOutputHelper output)
{
    private static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    [Fact]
    public async Task Every_call_ends_exactly_once_within_the_concurrency_bound()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0, peak = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            QueueFullMode mode = Modes[round % Modes.Length];
            (Ledger ledger, int roundPeak) = await RunRoundAsync(seed, mode, StressProfile.Items);
            peak = Math.Max(peak, roundPeak);
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "HttpGate", $"seed={seed} mode={mode} {ledger.Summary()} peakInFlight={roundPeak}");
        }

        monitor.CollectAndAssertNone("HttpGate");
        StressReport.Write(output, "HttpGate", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} peakInFlight={peak} unobserved=0");
    }

    /// <summary>
    /// Regression: HttpGate.Release once handed the concurrency permit back before it uncounted the call, so another
    /// admission could count itself first and <see cref="HttpGateStatistics.PeakInFlight"/> (and the in-flight gauge)
    /// briefly exceeded MaxConcurrency while the real concurrency stayed bounded. Found by this suite; fixed in HttpGate.
    /// </summary>
    [Fact]
    public async Task Statistics_peak_in_flight_never_exceeds_max_concurrency()
    {
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            await RunRoundAsync(StressProfile.Seed(round), Modes[round % Modes.Length], StressProfile.Items, checkStatisticsPeak: true);
        }
    }

    private static async Task<(Ledger, int)> RunRoundAsync(int seed, QueueFullMode mode, int items, bool checkStatisticsPeak = false)
    {
        const int MaxConcurrency = 4;
        const int Producers = 8;
        var ledger = new Ledger(items);
        string context = $"HttpGate seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        var gate = Exec.Http()
            .AddProvider("a", new ProviderLimits())
            .AddProvider("b", new ProviderLimits())
            .WithMaxConcurrency(MaxConcurrency)
            .WithQueue(32, mode)
            .Build();

        int ended = 0, running = 0, observedPeak = 0;
        int disposeAfter = items * 3 / 4;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sources = new System.Collections.Concurrent.ConcurrentBag<CancellationTokenSource>();

        async Task SubmitAsync(int id, int priority, CancellationToken cancellationToken)
        {
            try
            {
                int result = await gate.RunAsync(
                    id % 2 == 0 ? "a" : "b",
                    async ct =>
                    {
                        ledger.Started(id);
                        int now = Interlocked.Increment(ref running);
                        StressDraw.InterlockedMax(ref observedPeak, now);

                        try
                        {
                            await Task.Yield();
                        }
                        finally
                        {
                            Interlocked.Decrement(ref running);
                        }

                        if (id % 17 == 4)
                        {
                            throw ledger.Fault(id);
                        }

                        ledger.Completed(id);
                        return id;
                    },
                    weight: 1,
                    priority: priority,
                    cancellationToken: cancellationToken);
                Assert.Equal(id, result);
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
            var random = new Random(seed * 31 + producer);
            var calls = new List<Task>();
            for (int id = producer; id < items; id += Producers)
            {
                CancellationToken token = StressDraw.Cancellation(random, sources);

                calls.Add(SubmitAsync(id, random.Next(3), token));
                if (random.Next(8) == 0)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await gate.DisposeAsync().WithTimeout();
        await producers.WithTimeout();
        foreach (CancellationTokenSource source in sources)
        {
            source.Dispose();
        }

        HttpGateStatistics statistics = gate.GetStatistics();
        Assert.True(observedPeak <= MaxConcurrency, $"{context}: {observedPeak} calls ran at once (measured in the calls), bound {MaxConcurrency}");
        if (checkStatisticsPeak)
        {
            Assert.True(statistics.PeakInFlight <= MaxConcurrency, $"{context}: statistics PeakInFlight {statistics.PeakInFlight} > {MaxConcurrency} (calls measured at most {observedPeak} at once)");
        }

        Assert.True(statistics.InFlight == 0 && statistics.Waiting == 0, $"{context}: inFlight={statistics.InFlight} waiting={statistics.Waiting} after dispose");
        ledger.AssertConsistent(context);
        return (ledger, observedPeak);
    }
}
