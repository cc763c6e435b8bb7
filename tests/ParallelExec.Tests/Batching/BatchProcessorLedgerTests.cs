using System.Collections.Concurrent;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>
/// The ledger under load: concurrent producers, awaited and posted items, cancellations, a full intake that drops,
/// poison items isolated by bisection. Every item id must end exactly once, in the way its caller was told.
/// </summary>
public class BatchProcessorLedgerTests
{
    private const int Producers = 4;
    private const int ItemsPerProducer = 1500;

    private static bool IsPoison(int id) => id % 101 == 0;

    [Fact]
    public async Task EveryItemEndsExactlyOnceUnderConcurrentProducers()
    {
        var outcomes = new ConcurrentDictionary<int, string>();
        var duplicates = new ConcurrentQueue<int>();
        void Record(int id, string outcome)
        {
            if (!outcomes.TryAdd(id, outcome))
            {
                duplicates.Enqueue(id);
            }
        }

        var handledOk = new ConcurrentDictionary<int, int>();
        var posted = new ConcurrentDictionary<int, bool>();
        var processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                await Task.Yield();
                if (items.Any(IsPoison))
                {
                    throw new InvalidDataException("poison");
                }

                foreach (var id in items)
                {
                    handledOk.AddOrUpdate(id, 1, (_, n) => n + 1);
                    if (posted.ContainsKey(id))
                    {
                        Record(id, "succeeded");
                    }
                }

                return items.Select(i => i * 2).ToArray();
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = 16,
                QueueCapacity = 64,
                FullMode = QueueFullMode.DropOldest,
                MaxDegreeOfParallelism = 2,
                MaxDelay = TimeSpan.FromMilliseconds(1),
                FailureMode = BatchFailureMode.Bisect,
                OnDropped = dropped => Record((int)dropped.Item!, "dropped"),
                OnError = failed => Record((int)failed.Item!, "failed"),
            });

        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            var awaited = new List<(int Id, Task<int> Task)>();
            for (var i = 0; i < ItemsPerProducer; i++)
            {
                var id = (p * 100_000) + i;
                if (id % 5 == 0)
                {
                    posted[id] = true;
                    Assert.True(processor.TryPost(id) is PostResult.Accepted or PostResult.AcceptedAfterDrop);
                    continue;
                }

                using var cts = new CancellationTokenSource();
                var task = processor.SubmitAsync(id, id % 7 == 0 ? cts.Token : default).AsTask();
                if (id % 7 == 0)
                {
                    await cts.CancelAsync();
                }

                awaited.Add((id, task));
                if (i % 100 == 0)
                {
                    await Task.Yield();
                }
            }

            foreach (var (id, task) in awaited)
            {
                try
                {
                    Assert.Equal(id * 2, await task);
                    Record(id, "succeeded");
                }
                catch (ItemDroppedException)
                {
                    // Recorded by OnDropped as well: the ledger wants exactly one outcome, so only check the reason.
                    Assert.Equal("dropped", outcomes.GetValueOrDefault(id));
                }
                catch (OperationCanceledException)
                {
                    Record(id, "cancelled");
                }
                catch (InvalidDataException)
                {
                    Record(id, "failed");
                }
            }
        })).ToArray();

        await Task.WhenAll(producers).WithTimeout();
        await processor.DisposeAsync().AsTask().WithTimeout();

        Assert.Empty(duplicates);
        var allIds = Enumerable.Range(0, Producers).SelectMany(p => Enumerable.Range(p * 100_000, ItemsPerProducer)).ToArray();
        Assert.Equal(allIds.Order(), outcomes.Keys.Order());
        foreach (var id in allIds)
        {
            var outcome = outcomes[id];
            if (outcome == "succeeded")
            {
                Assert.False(IsPoison(id), $"poison item {id} succeeded");
                Assert.Equal(1, handledOk[id]);
            }
            else if (outcome == "failed")
            {
                Assert.True(IsPoison(id), $"healthy item {id} failed");
            }
            else if (outcome == "cancelled")
            {
                Assert.Equal(0, id % 7);
            }
        }

        var stats = processor.GetStatistics();
        Assert.Equal(allIds.Length, stats.Ledger.Submitted);
        Assert.Equal(outcomes.Count(o => o.Value == "succeeded"), stats.Ledger.Succeeded);
        Assert.Equal(outcomes.Count(o => o.Value == "failed"), stats.Ledger.Failed);
        Assert.Equal(outcomes.Count(o => o.Value == "cancelled"), stats.Ledger.Cancelled);
        Assert.Equal(outcomes.Count(o => o.Value == "dropped"), stats.Ledger.Dropped);
        Assert.Equal(0, stats.Ledger.Queued);
    }
}
