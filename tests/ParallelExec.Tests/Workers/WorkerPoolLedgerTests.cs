using System.Collections.Concurrent;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>
/// The ledger, checked by item id: every submitted item ends exactly once, and the way it ended is the one its submitter
/// was told about. Several producers, awaited and posted items, random failures and random cancellations (before the
/// item is queued, while queued, while running).
/// </summary>
public class WorkerPoolLedgerTests
{
    private enum Ending
    {
        None = 0,
        Succeeded,
        Failed,
        Cancelled,
        Dropped,
    }

    [Theory]
    [InlineData(QueueFullMode.Wait, 100_000)]
    [InlineData(QueueFullMode.DropOldest, 30_000)]
    [InlineData(QueueFullMode.Reject, 30_000)]
    public async Task EveryItemEndsExactlyOnceAsItsSubmitterWasTold(QueueFullMode mode, int itemCount)
    {
        const int Producers = 4;
        var endings = new int[itemCount];
        var executions = new int[itemCount];
        var errors = new ConcurrentQueue<string>();
        var posted = new bool[itemCount];
        var workIds = new ConcurrentDictionary<Delegate, int>();

        void End(int id, Ending ending)
        {
            if (Interlocked.CompareExchange(ref endings[id], (int)ending, (int)Ending.None) != (int)Ending.None)
            {
                errors.Enqueue($"item {id} ended twice: {(Ending)endings[id]} then {ending}");
            }
        }

        await using var pool = new WorkerPool(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = 3,
            QueueCapacity = 64,
            FullMode = mode,
            OnError = failure => End(workIds[(Delegate)failure.Item!], Ending.Failed),
            OnDropped = dropped =>
            {
                // A posted item is reported here when evicted, refused, or cancelled while queued or running.
                var id = workIds[(Delegate)dropped.Item!];
                if (posted[id])
                {
                    End(id, dropped.Reason == DropReason.Cancelled ? Ending.Cancelled : Ending.Dropped);
                }
            },
        });

        async Task ProduceAsync(int producer)
        {
            var random = new Random(producer * 7919 + itemCount);
            var window = new List<(int Id, Task<int> Task)>();
            var postedCancellations = new List<(int Id, CancellationTokenSource Cts)>();
            for (var id = producer; id < itemCount; id += Producers)
            {
                var itemId = id;
                var fail = random.Next(20) == 0;
                var cancelMode = random.Next(20); // 0: cancel before running, 1: cancel while running, else never
                var cts = cancelMode <= 1 ? new CancellationTokenSource() : null;
                var yieldInWork = random.Next(4) == 0;

                async ValueTask<int> Work(CancellationToken ct)
                {
                    Interlocked.Increment(ref executions[itemId]);
                    if (cancelMode == 1)
                    {
                        await cts!.CancelAsync();
                        ct.ThrowIfCancellationRequested();
                    }

                    if (yieldInWork)
                    {
                        await Task.Yield();
                    }

                    if (fail)
                    {
                        throw new InvalidOperationException(itemId.ToString(System.Globalization.CultureInfo.InvariantCulture));
                    }

                    return itemId;
                }

                if (random.Next(3) == 0)
                {
                    posted[itemId] = true;
                    Func<CancellationToken, ValueTask> postedWork = async ct =>
                    {
                        await Work(ct);
                        End(itemId, Ending.Succeeded);
                    };
                    workIds[postedWork] = itemId;
                    try
                    {
                        // A rejected, evicted or cancelled posted item is recorded through OnDropped.
                        await pool.PostAsync(postedWork, cts?.Token ?? default);
                        if (cts is not null)
                        {
                            postedCancellations.Add((itemId, cts));
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        End(itemId, Ending.Cancelled);
                    }

                    if (cancelMode == 0)
                    {
                        await cts!.CancelAsync();
                    }
                }
                else
                {
                    Func<CancellationToken, ValueTask<int>> awaitedWork = Work;
                    workIds[awaitedWork] = itemId;
                    window.Add((itemId, pool.RunAsync(awaitedWork, cts?.Token ?? default).AsTask()));
                    if (cancelMode == 0)
                    {
                        await cts!.CancelAsync();
                    }
                }

                if (window.Count >= 32)
                {
                    await DrainAsync(window);
                }
            }

            await DrainAsync(window);
            foreach (var (id, cts) in postedCancellations)
            {
                cts.Dispose();
            }
        }

        async Task DrainAsync(List<(int Id, Task<int> Task)> window)
        {
            foreach (var (id, task) in window)
            {
                try
                {
                    var value = await task;
                    if (value != id)
                    {
                        errors.Enqueue($"item {id} got the result {value}");
                    }

                    End(id, Ending.Succeeded);
                }
                catch (OperationCanceledException)
                {
                    End(id, Ending.Cancelled);
                }
                catch (ItemDroppedException)
                {
                    End(id, Ending.Dropped);
                }
                catch (InvalidOperationException e) when (e.Message == id.ToString(System.Globalization.CultureInfo.InvariantCulture))
                {
                    End(id, Ending.Failed);
                }
            }

            window.Clear();
        }

        await Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p)))).WithTimeout(TimeSpan.FromSeconds(60));
        await pool.DisposeAsync().AsTask().WithTimeout();

        var stats = pool.GetStatistics();
        for (var id = 0; id < itemCount; id++)
        {
            if (executions[id] > 1)
            {
                errors.Enqueue($"item {id} ran {executions[id]} times");
            }

            if ((Ending)endings[id] == Ending.None)
            {
                // Every item, posted ones cancelled in the queue included, is told to someone.
                errors.Enqueue($"item {id} never ended (posted = {posted[id]}, ran {executions[id]} times)");
            }
        }

        Assert.Empty(errors);
        var count = (Ending e) => endings.LongCount(x => x == (int)e);
        Assert.Equal(stats.Ledger.Succeeded, count(Ending.Succeeded));
        Assert.Equal(stats.Ledger.Failed, count(Ending.Failed));
        Assert.Equal(stats.Ledger.Dropped + stats.Ledger.Rejected, count(Ending.Dropped));

        // Cancelled before the call took it (token already cancelled) is not counted as submitted.
        Assert.Equal(stats.Ledger.Submitted, stats.Ledger.Succeeded + stats.Ledger.Failed + stats.Ledger.Cancelled + stats.Ledger.Dropped + stats.Ledger.Rejected);
        Assert.Equal(stats.Ledger.Cancelled, count(Ending.Cancelled));
        Assert.True(count(Ending.Failed) > 0);
        Assert.True(count(Ending.Cancelled) > 0);
        if (mode != QueueFullMode.Wait)
        {
            Assert.True(count(Ending.Dropped) > 0);
        }

        Assert.Equal(0, stats.Ledger.InFlight + stats.Ledger.Queued + stats.Waiting);
    }
}
