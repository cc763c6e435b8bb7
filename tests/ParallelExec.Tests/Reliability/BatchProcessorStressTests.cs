using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>BatchProcessor under many producers, poison items, random batch faults, cancellations and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class BatchProcessorStressTests(ITestOutputHelper output)
{
    private static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    [Fact]
    public async Task Every_item_ends_exactly_once_under_faults_cancellation_and_dispose()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            QueueFullMode mode = Modes[round % Modes.Length];
            BatchFailureMode failureMode = round % 2 == 0 ? BatchFailureMode.Bisect : BatchFailureMode.FailAll;
            Ledger ledger = await RunRoundAsync(seed, mode, failureMode, StressProfile.Items);
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "BatchProcessor", $"seed={seed} mode={mode} failure={failureMode} {ledger.Summary()}");
        }

        monitor.CollectAndAssertNone("BatchProcessor");
        StressReport.Write(output, "BatchProcessor", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} unobserved=0");
    }

    private static async Task<Ledger> RunRoundAsync(int seed, QueueFullMode mode, BatchFailureMode failureMode, int items)
    {
        const int Capacity = 64;
        const int Producers = 8;
        var ledger = new Ledger(items);
        string context = $"BatchProcessor seed={seed} mode={mode} failure={failureMode} (replay with PARALLELEXEC_SEED={seed})";
        var handlerRandom = new Random(seed);
        var processor = Exec.Batch<int, int>(async (batch, ct) =>
            {
                foreach (int id in batch)
                {
                    ledger.Saw(id);
                }

                await Task.Yield();
                bool transient;
                lock (handlerRandom)
                {
                    transient = failureMode == BatchFailureMode.FailAll && handlerRandom.Next(10) == 0;
                }

                // Poison items (id % 37 == 5) fail every batch they are in; Bisect isolates them, FailAll fails the batch.
                int poison = batch.FirstOrDefault(id => id % 37 == 5, -1);
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
            .WithMaxConcurrentBatches(3)
            .WithQueue(Capacity, mode)
            .WithFailureMode(failureMode)
            .Build();

        int ended = 0;
        int disposeAfter = items * 3 / 4;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sources = new System.Collections.Concurrent.ConcurrentBag<CancellationTokenSource>();

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
            var random = new Random(seed * 31 + producer);
            var calls = new List<Task>();
            for (int id = producer; id < items; id += Producers)
            {
                CancellationToken token = StressDraw.Cancellation(random, sources);

                calls.Add(SubmitAsync(id, token));
                if (random.Next(8) == 0)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await processor.DisposeAsync().WithTimeout();
        await producers.WithTimeout();
        foreach (CancellationTokenSource source in sources)
        {
            source.Dispose();
        }

        BatchProcessorStatistics statistics = processor.GetStatistics();
        Assert.True(statistics.Pending == 0 && statistics.RunningBatches == 0, $"{context}: pending={statistics.Pending} running={statistics.RunningBatches} after dispose");
        ledger.AssertConsistent(context);
        return ledger;
    }
}
