using Microsoft.Coyote.Specifications;
using ParallelExec.Coyote.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// WorkerPool claims under Coyote. A worker whose last item completed synchronously and that finds at least two items
/// queued takes a share of the queue and runs it without the lock. The scenario makes that happen on one worker: quick
/// (synchronous) items from two producers, one item that waits (so the worker gives back what it claimed), statistics
/// snapshots taken meanwhile, and DisposeAsync racing all of it. Each interleaving checks that every item ends exactly
/// once, that every snapshot adds up, and that the final statistics match the ledger.
/// </summary>
public sealed class WorkerPoolClaimInterleavingTests(ITestOutputHelper output)
{
    private const string Ran = "ran";
    private const string Succeeded = "succeeded";
    private const string Accepted = "accepted";
    private const string NotTaken = "notTaken";
    private const string Disposed = "disposed";
    private const string Dropped = "dropped";
    private const string DroppedCallback = "onDropped";

    // The item whose work waits (yields): a worker that claimed the items behind it must give them back first.
    private const int WaitingItem = 3;

    private static readonly string[] Tracked = [Ran, Succeeded, Accepted, NotTaken, Disposed, Dropped, DroppedCallback];

    [Theory]
    [InlineData(-1, 111u)]
    [InlineData(0, 112u)]
    public void Claimed_items_end_exactly_once_and_every_snapshot_adds_up(int drainTimeoutMs, uint seed) =>
        CoyoteExplorer.AssertNoBug(
            output, $"WorkerPool.Claims.DrainTimeout{drainTimeoutMs}", () => ClaimsVsDisposeAsync(TimeSpan.FromMilliseconds(drainTimeoutMs)), iterations: 150, seed);

    private static async Task ClaimsVsDisposeAsync(TimeSpan drainTimeout)
    {
        var ledger = new Ledger();
        var ids = new Dictionary<Delegate, int>();
        var pool = new WorkerPool(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = 1,
            QueueCapacity = 8,
            Name = "coyote-claims",
            DrainTimeout = drainTimeout,
            OnDropped = dropped =>
            {
                lock (ids)
                {
                    ledger.Record(ids[(Delegate)dropped.Item!], DroppedCallback);
                }
            },
        });

        Func<CancellationToken, ValueTask> Work(int id)
        {
            Func<CancellationToken, ValueTask> work = id == WaitingItem
                ? async _ =>
                {
                    ledger.Record(id, Ran);
                    await Task.Yield();
                }
                : _ =>
                {
                    ledger.Record(id, Ran);
                    return ValueTask.CompletedTask;
                };
            lock (ids)
            {
                ids[work] = id;
            }

            return work;
        }

        var refusedAtCall = 0;
        var notTaken = 0;

        void TryPost(int id)
        {
            try
            {
                if (pool.TryPost(Work(id)) == PostResult.Accepted)
                {
                    ledger.Record(id, Accepted);
                }
                else
                {
                    Interlocked.Increment(ref notTaken);
                    ledger.Record(id, NotTaken);
                }
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Disposed);
            }
        }

        async Task RunAsync(int id)
        {
            ValueTask pending;
            try
            {
                pending = pool.RunAsync(Work(id));
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Disposed);
                return;
            }

            try
            {
                await pending;
                ledger.Record(id, Succeeded);
            }
            catch (ItemDroppedException)
            {
                ledger.Record(id, Dropped);
            }
        }

        void AssertSnapshotAddsUp()
        {
            var s = pool.GetStatistics();
            Specification.Assert(
                s.Ledger.Submitted == s.Ledger.Queued + s.Ledger.InFlight + s.Ledger.Succeeded + s.Ledger.Failed + s.Ledger.Cancelled + s.Ledger.Dropped + s.Ledger.Rejected,
                "snapshot does not add up: submitted={0} queued={1} waiting={2} running={3} completed={4} dropped={5}",
                s.Ledger.Submitted, s.Ledger.Queued, s.Waiting, s.Ledger.InFlight, s.Ledger.Succeeded, s.Ledger.Dropped);
            Specification.Assert(s.Ledger.InFlight <= 1, "one worker, but running={0}", s.Ledger.InFlight);
        }

        var posting = Task.Run(() =>
        {
            for (var id = 1; id <= 6; id++)
            {
                TryPost(id);
            }
        });
        var awaiting = Task.Run(async () =>
        {
            var first = RunAsync(7);
            var second = RunAsync(8);
            await first;
            await second;
        });
        var observer = Task.Run(async () =>
        {
            for (var i = 0; i < 3; i++)
            {
                AssertSnapshotAddsUp();
                await Task.Yield();
            }
        });
        var disposer = Task.Run(async () =>
        {
            await Task.Yield();
            await Task.Yield();
            await pool.DisposeAsync();
        });
        await Task.WhenAll(posting, awaiting, observer, disposer);
        await pool.DisposeAsync();

        for (var id = 1; id <= 8; id++)
        {
            var awaited = id >= 7;
            if (ledger.Count(id, Disposed) == 1)
            {
                ledger.AssertExactly(id, Tracked, Disposed);
            }
            else if (ledger.Count(id, NotTaken) == 1)
            {
                ledger.AssertExactly(id, Tracked, NotTaken);
            }
            else if (ledger.Count(id, Ran) == 1)
            {
                ledger.AssertExactly(id, Tracked, awaited ? [Ran, Succeeded] : [Accepted, Ran]);
            }
            else
            {
                // Only the drain timeout drops here (TryPost never evicts in Wait mode).
                ledger.AssertExactly(id, Tracked, awaited ? [Dropped, DroppedCallback] : [Accepted, DroppedCallback]);
            }
        }

        var stats = pool.GetStatistics();
        Specification.Assert(stats.Ledger.Queued == 0 && stats.Ledger.InFlight == 0, "after dispose: queued={0} running={1}", stats.Ledger.Queued, stats.Ledger.InFlight);
        Specification.Assert(
            stats.Ledger.Submitted == 8 - refusedAtCall - notTaken,
            "submitted={0}, refused at the call {1}, not taken {2}; {3}", stats.Ledger.Submitted, refusedAtCall, notTaken, ledger.DescribeAll());
        Specification.Assert(stats.Ledger.Succeeded == ledger.Total(Ran), "completed={0} but {1} ran; {2}", stats.Ledger.Succeeded, ledger.Total(Ran), ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Dropped == ledger.Total(DroppedCallback),
            "dropped={0} but OnDropped ran {1} times; {2}", stats.Ledger.Dropped, ledger.Total(DroppedCallback), ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Submitted == stats.Ledger.Succeeded + stats.Ledger.Dropped,
            "statistics do not add up: submitted={0} completed={1} dropped={2}", stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Dropped);
    }
}
