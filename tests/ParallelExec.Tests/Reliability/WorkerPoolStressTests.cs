using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>WorkerPool under many producers, random faults, cancellations, resizes and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class WorkerPoolStressTests(ITestOutputHelper output)
{
    private static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    [Fact]
    public async Task Every_item_ends_exactly_once_under_faults_cancellation_resize_and_dispose()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0, peak = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            QueueFullMode mode = Modes[round % Modes.Length];
            Ledger ledger = await RunRoundAsync(seed, mode, StressProfile.Items, p => peak = Math.Max(peak, p));
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "WorkerPool", $"seed={seed} mode={mode} {ledger.Summary()}");
        }

        monitor.CollectAndAssertNone("WorkerPool");
        StressReport.Write(output, "WorkerPool", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} peakQueue={peak} unobserved=0");
    }

    private static async Task<Ledger> RunRoundAsync(int seed, QueueFullMode mode, int items, Action<int> reportPeak)
    {
        const int Capacity = 32;
        var ledger = new Ledger(items);
        string context = $"WorkerPool seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        var pool = Exec.WorkerPool().WithWorkers(4).WithQueue(Capacity, mode).Build();
        const int Producers = 8;
        int disposeAfter = items * 3 / 4;
        int ended = 0;
        var sources = new System.Collections.Concurrent.ConcurrentBag<CancellationTokenSource>();
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task ProduceAsync(int producer)
        {
            var random = new Random(seed * 31 + producer);
            var calls = new List<Task>();
            for (int id = producer; id < items; id += Producers)
            {
                int itemId = id;
                int action = random.Next(100);
                var cts = action < 8 ? new CancellationTokenSource() : null;
                if (cts is not null)
                {
                    sources.Add(cts);
                }
                if (action is >= 10 and < 13)
                {
                    try
                    {
                        pool.SetWorkerCount(1 + random.Next(6));
                    }
                    catch (ObjectDisposedException)
                    {
                        // Documented: resizing a disposed pool throws.
                    }
                }

                calls.Add(SubmitAsync(itemId, action, cts));
                if (action < 4)
                {
                    await cts!.CancelAsync();
                }
                else if (action < 8)
                {
                    cts!.CancelAfter(random.Next(0, 3));
                }

                if (random.Next(8) == 0)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        async Task SubmitAsync(int id, int action, CancellationTokenSource? cts)
        {
            try
            {
                int result = await pool.RunAsync<int>(
                    async ct =>
                    {
                        ledger.Started(id);
                        if (action is >= 20 and < 30)
                        {
                            await Task.Yield();
                        }
                        else if (action is >= 4 and < 8)
                        {
                            // A hang that only the item's timeout (CancelAfter) or the dispose deadline cuts.
                            await Task.Delay(Timeout.Infinite, ct);
                        }

                        if (action is >= 40 and < 50)
                        {
                            throw ledger.Fault(id);
                        }

                        ledger.Completed(id);
                        return id;
                    },
                    cts?.Token ?? default);
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

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        // A short drain deadline: queued items are dropped, running hangs are cancelled.
        await pool.DisposeAsync(TimeSpan.FromMilliseconds(seed % 2 == 0 ? 0 : 50)).WithTimeout();
        await producers.WithTimeout();
        foreach (CancellationTokenSource source in sources)
        {
            source.Dispose();
        }

        WorkerPoolStatistics statistics = pool.GetStatistics();
        reportPeak(statistics.PeakQueueLength);
        Assert.True(statistics.PeakQueueLength <= Capacity, $"{context}: peak queue {statistics.PeakQueueLength} > capacity {Capacity}");
        Assert.True(statistics.Queued == 0 && statistics.Running == 0, $"{context}: queued={statistics.Queued} running={statistics.Running} after dispose");
        ledger.AssertConsistent(context);
        return ledger;
    }
}
