using System.Collections.Concurrent;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>
/// A worker that finds a deep queue claims a share of it and runs those items without the pool's lock. These tests hold
/// the promises that makes: claimed items count as queued, never wait behind an item that waits while another worker
/// could run them, and are dropped like queued items when the drain timeout passes. Each holds with or without
/// claims; what they rule out is a claim that hides items from the pool.
/// </summary>
public class WorkerPoolClaimTests
{
    private const int Items = 20;

    // Item 5 of the batch blocks; with the first item and the gate item, 1 + 1 + 5 items have ended by then.
    private const int BlockingItem = 5;

    private static WorkerPool CreatePool(int workers, Action<DroppedItem>? onDropped = null, TimeSpan? drainTimeout = null) =>
        new(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = workers, QueueCapacity = 64, OnDropped = onDropped, Name = "claims",
            DrainTimeout = drainTimeout ?? Timeout.InfiniteTimeSpan,
        });

    /// <summary>Runs an item on one worker that holds it until <paramref name="release"/> opens.</summary>
    private static async Task<Task> HoldOneWorkerAsync(WorkerPool pool, Gate release)
    {
        var started = new Gate();
        var held = pool.RunAsync(async _ =>
        {
            started.Open();
            await release.WaitAsync();
        }).AsTask();
        await started.Task.WithTimeout();
        return held;
    }

    [Fact]
    public async Task ClaimedItemsCountAsQueuedAndEverySnapshotAddsUp()
    {
        await using var pool = CreatePool(workers: 1);
        var release = new Gate();
        using var hold = new ManualResetEventSlim();
        using var opener = release.OpenOnDispose();
        var inHold = new Gate();
        var held = await HoldOneWorkerAsync(pool, release);

        // Queued behind the held item: one item that completes at once (so the worker may claim next), then a deep
        // queue in which one item blocks its worker synchronously (so the worker is inside a claim, not in the pool).
        await pool.PostAsync(_ => ValueTask.CompletedTask);
        for (var i = 0; i < Items; i++)
        {
            var id = i;
            await pool.PostAsync(_ =>
            {
                if (id == BlockingItem)
                {
                    inHold.Open();
                    hold.Wait(TimeSpan.FromSeconds(30));
                }

                return ValueTask.CompletedTask;
            });
        }

        release.Open();
        await held.WithTimeout();
        await inHold.Task.WithTimeout();

        var during = pool.GetStatistics();
        Assert.Equal(1 + 1 + Items, during.Ledger.Submitted);
        Assert.Equal(1, during.Ledger.InFlight);
        Assert.Equal(1 + 1 + BlockingItem, during.Ledger.Succeeded);
        Assert.Equal(Items - BlockingItem - 1, during.Ledger.Queued);
        Assert.Equal(during.Ledger.Submitted, during.Ledger.Queued + during.Ledger.InFlight + during.Ledger.Succeeded);

        hold.Set();
        await pool.DisposeAsync().AsTask().WithTimeout();
        var after = pool.GetStatistics();
        Assert.Equal((0, 0, 1L + 1 + Items), (after.Ledger.Queued, after.Ledger.InFlight, after.Ledger.Succeeded));
    }

    [Fact]
    public async Task AClaimedItemThatWaitsGivesTheItemsBehindItBackToTheOtherWorkers()
    {
        await using var pool = CreatePool(workers: 2);
        var releaseFirst = new Gate();
        var releaseSecond = new Gate();
        var waiting = new Gate();
        using var openers = new CompositeDisposable(releaseFirst.OpenOnDispose(), releaseSecond.OpenOnDispose(), waiting.OpenOnDispose());
        var heldFirst = await HoldOneWorkerAsync(pool, releaseFirst);
        var heldSecond = await HoldOneWorkerAsync(pool, releaseSecond);

        var ended = new ConcurrentDictionary<int, bool>();
        await pool.PostAsync(_ => ValueTask.CompletedTask);
        for (var i = 0; i < 2 * Items; i++)
        {
            var id = i;
            await pool.PostAsync(async _ =>
            {
                if (id == 3)
                {
                    // Waits (asynchronously) for the end of the test: the worker that runs it is gone until then.
                    await waiting.WaitAsync();
                }

                ended[id] = true;
            });
        }

        // The first worker runs the quick item, takes the next with a claim (the other worker is busy, not idle), and
        // reaches the waiting item; only the second worker is left for everything behind it.
        releaseFirst.Open();
        await heldFirst.WithTimeout();
        releaseSecond.Open();
        await heldSecond.WithTimeout();

        await TestTimeout.WaitUntilAsync(() => ended.Count == 2 * Items - 1);
        Assert.DoesNotContain(3, ended.Keys);
        Assert.Equal(1, pool.GetStatistics().Ledger.InFlight);

        waiting.Open();
        await pool.DisposeAsync().AsTask().WithTimeout();
        Assert.Equal(2 * Items, ended.Count);
    }

    [Fact]
    public async Task TheDrainTimeoutDropsClaimedItemsThatHaveNotStartedLikeQueuedOnes()
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        var pool = CreatePool(workers: 1, onDropped: dropped.Enqueue, drainTimeout: TimeSpan.Zero);
        var release = new Gate();
        using var hold = new ManualResetEventSlim();
        using var opener = release.OpenOnDispose();
        var inHold = new Gate();
        var ran = new ConcurrentDictionary<int, bool>();
        var works = new Func<CancellationToken, ValueTask>[Items];
        var held = await HoldOneWorkerAsync(pool, release);

        await pool.PostAsync(_ => ValueTask.CompletedTask);
        for (var i = 0; i < Items; i++)
        {
            var id = i;
            works[i] = _ =>
            {
                ran[id] = true;
                if (id == BlockingItem)
                {
                    inHold.Open();
                    hold.Wait(TimeSpan.FromSeconds(30));
                }

                return ValueTask.CompletedTask;
            };
            await pool.PostAsync(works[i]);
        }

        release.Open();
        await held.WithTimeout();
        await inHold.Task.WithTimeout();

        // The deadline passes at once: what waits in the queue itself is dropped now, what the worker claimed when its
        // blocking item ends.
        var disposal = pool.DisposeAsync().AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Dropped > 0);
        hold.Set();
        await disposal.WithTimeout();

        Assert.Equal(Enumerable.Range(0, BlockingItem + 1), ran.Keys.Order());
        var droppedWorks = dropped.Select(d => (d.Reason, d.Key, d.Item)).ToHashSet();
        var expected = works.Skip(BlockingItem + 1).Select(w => (DropReason.DrainTimeout, (object?)null, (object?)w)).ToHashSet();
        Assert.Equal(expected, droppedWorks);
        var statistics = pool.GetStatistics();
        Assert.Equal((1L + 1 + BlockingItem + 1, (long)(Items - BlockingItem - 1), 0), (statistics.Ledger.Succeeded, statistics.Ledger.Dropped, statistics.Ledger.Queued));
    }

    private sealed class CompositeDisposable(params IDisposable[] parts) : IDisposable
    {
        public void Dispose()
        {
            foreach (var part in parts)
            {
                part.Dispose();
            }
        }
    }
}
