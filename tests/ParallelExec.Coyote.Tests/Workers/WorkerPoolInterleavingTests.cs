using Microsoft.Coyote.Specifications;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coyote.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// WorkerPool races under Coyote: producers using every intake path against DisposeAsync, and a caller's cancellation
/// against the worker dequeuing the item. Each interleaving checks the ledger by item id: the submitting call, the work
/// and OnDropped together report exactly one ending per item, and the statistics add up to the same figures.
/// </summary>
public sealed class WorkerPoolInterleavingTests(ITestOutputHelper output)
{
    private const string Ran = "ran";
    private const string Succeeded = "succeeded";
    private const string Dropped = "dropped";
    private const string DroppedCallback = "onDropped";
    private const string Disposed = "disposed";
    private const string Cancelled = "cancelled";
    private const string Accepted = "accepted";
    private const string NotTaken = "notTaken";

    private static readonly string[] Tracked = [Ran, Succeeded, Dropped, DroppedCallback, Disposed, Cancelled, Accepted, NotTaken];

    [Theory]
    [InlineData(QueueFullMode.Wait, 101u)]
    [InlineData(QueueFullMode.DropOldest, 102u)]
    [InlineData(QueueFullMode.DropNewest, 103u)]
    [InlineData(QueueFullMode.Reject, 104u)]
    public void Intake_from_concurrent_producers_racing_DisposeAsync_ends_every_item_exactly_once(QueueFullMode mode, uint seed) =>
        CoyoteExplorer.AssertNoBug(output, $"WorkerPool.IntakeVsDispose.{mode}", () => IntakeVsDisposeAsync(mode, drainTimeout: null), iterations: 150, seed);

    [Fact]
    public void Cancelling_a_queued_item_racing_its_dequeue_ends_it_exactly_once() =>
        CoyoteExplorer.AssertNoBug(output, "WorkerPool.CancelVsDequeue", CancelVsDequeueAsync, iterations: 200, seed: 105);

    internal static async Task IntakeVsDisposeAsync(QueueFullMode mode, TimeSpan? drainTimeout)
    {
        var ledger = new Ledger();
        var ids = new Dictionary<Delegate, int>();
        var time = new FakeTimeProvider();
        var pool = new WorkerPool(new WorkerPoolOptions
        {
            MaxDegreeOfParallelism = 1,
            QueueCapacity = 1,
            FullMode = mode,
            TimeProvider = time,
            Name = "coyote-intake",
            DrainTimeout = drainTimeout ?? Timeout.InfiniteTimeSpan,
            OnDropped = dropped => ledger.Record(IdOf(ids, (Delegate)dropped.Item!), DroppedCallback),
        });

        Func<CancellationToken, ValueTask> Work(int id)
        {
            Func<CancellationToken, ValueTask> work = async _ =>
            {
                ledger.Record(id, Ran);
                await Task.Yield();
            };
            lock (ids)
            {
                ids[work] = id;
            }

            return work;
        }

        Func<CancellationToken, ValueTask<int>> WorkWithResult(int id)
        {
            Func<CancellationToken, ValueTask<int>> work = async _ =>
            {
                ledger.Record(id, Ran);
                await Task.Yield();
                return id * 10;
            };
            lock (ids)
            {
                ids[work] = id;
            }

            return work;
        }

        var refusedAtCall = 0;
        var notTaken = 0;

        async Task RunAsync(int id)
        {
            ValueTask<int> pending;
            try
            {
                pending = pool.RunAsync(WorkWithResult(id));
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Disposed);
                return;
            }

            try
            {
                var result = await pending;
                Specification.Assert(result == id * 10, "item {0} returned {1}", id, result);
                ledger.Record(id, Succeeded);
            }
            catch (ItemDroppedException)
            {
                ledger.Record(id, Dropped);
            }
            catch (ObjectDisposedException)
            {
                ledger.Record(id, Disposed);
            }
        }

        void TryPost(int id)
        {
            try
            {
                var result = pool.TryPost(Work(id));
                if (result == PostResult.QueueFull)
                {
                    Interlocked.Increment(ref notTaken);
                    ledger.Record(id, NotTaken);
                }
                else if (result is PostResult.Accepted or PostResult.AcceptedAfterDrop)
                {
                    ledger.Record(id, Accepted);
                }
                else
                {
                    Specification.Assert(result == PostResult.Rejected, "TryPost of item {0} returned {1}", id, result);
                    ledger.Record(id, Dropped);
                }
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Disposed);
            }
        }

        async Task PostAsync(int id)
        {
            ValueTask<PostResult> pending;
            try
            {
                pending = pool.PostAsync(Work(id));
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Disposed);
                return;
            }

            try
            {
                var result = await pending;
                if (result is PostResult.Accepted or PostResult.AcceptedAfterDrop)
                {
                    ledger.Record(id, Accepted);
                }
                else
                {
                    Specification.Assert(result == PostResult.Rejected, "PostAsync of item {0} returned {1}", id, result);
                    ledger.Record(id, Dropped);
                }
            }
            catch (ObjectDisposedException)
            {
                ledger.Record(id, Disposed);
            }
        }

        var producerA = Task.Run(async () =>
        {
            await RunAsync(1);
            TryPost(2);
            await RunAsync(3);
        });
        var producerB = Task.Run(async () =>
        {
            await PostAsync(4);
            TryPost(5);
            await PostAsync(6);
        });
        var producerC = Task.Run(async () =>
        {
            var first = RunAsync(7);
            TryPost(8);
            await first;
        });
        var disposer = Task.Run(async () =>
        {
            await Task.Yield();
            await pool.DisposeAsync();
        });
        var clock = Task.Run(async () =>
        {
            // With a positive drain timeout, time must pass for the pool to drop what it could not drain; the work never waits
            // on time, so advancing until the dispose completes only ever fires the drain timeout.
            while (drainTimeout > TimeSpan.Zero && !disposer.IsCompleted)
            {
                await Task.Yield();
                time.Advance(TimeSpan.FromMilliseconds(5));
            }
        });
        await Task.WhenAll(new[] { producerA, producerB, producerC, disposer, clock });

        // A second dispose returns the first one's (completed) task: everything has ended by now.
        await pool.DisposeAsync();

        var awaited = new[] { 1, 3, 7 };
        var posted = new[] { 2, 4, 5, 6, 8 };
        foreach (var id in awaited)
        {
            // The submitter's view is the ending; the work and OnDropped must agree with it.
            if (ledger.Count(id, Succeeded) == 1)
            {
                ledger.AssertExactly(id, Tracked, Ran, Succeeded);
            }
            else if (ledger.Count(id, Dropped) == 1)
            {
                ledger.AssertExactly(id, Tracked, Dropped, DroppedCallback);
            }
            else
            {
                ledger.AssertExactly(id, Tracked, Disposed);
            }
        }

        foreach (var id in posted)
        {
            if (ledger.Count(id, Accepted) == 1)
            {
                // Accepted fire-and-forget work either ran or was evicted later (DropOldest/DropNewest), never both.
                if (ledger.Count(id, Ran) == 1)
                {
                    ledger.AssertExactly(id, Tracked, Accepted, Ran);
                }
                else
                {
                    ledger.AssertExactly(id, Tracked, Accepted, DroppedCallback);
                }
            }
            else if (ledger.Count(id, Dropped) == 1)
            {
                ledger.AssertExactly(id, Tracked, Dropped, DroppedCallback);
            }
            else if (ledger.Count(id, NotTaken) == 1)
            {
                ledger.AssertExactly(id, Tracked, NotTaken);
            }
            else
            {
                ledger.AssertExactly(id, Tracked, Disposed);
            }
        }

        var stats = pool.GetStatistics();
        var total = awaited.Length + posted.Length;
        Specification.Assert(
            stats.Ledger.Queued == 0 && stats.Waiting == 0 && stats.Ledger.InFlight == 0,
            "after dispose: queued={0} waiting={1} running={2}", stats.Ledger.Queued, stats.Waiting, stats.Ledger.InFlight);
        Specification.Assert(
            stats.Ledger.Submitted == total - refusedAtCall - notTaken,
            "submitted={0}, expected {1} - {2} refused at the call - {3} not taken; {4}", stats.Ledger.Submitted, total, refusedAtCall, notTaken, ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Submitted == stats.Ledger.Succeeded + stats.Ledger.Failed + stats.Ledger.Cancelled + stats.Ledger.Dropped + stats.Ledger.Rejected,
            "statistics do not add up: submitted={0} completed={1} failed={2} cancelled={3} dropped={4} rejected={5}",
            stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Failed, stats.Ledger.Cancelled, stats.Ledger.Dropped, stats.Ledger.Rejected);
        Specification.Assert(stats.Ledger.Succeeded == ledger.Total(Ran), "completed={0} but {1} items ran; {2}", stats.Ledger.Succeeded, ledger.Total(Ran), ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Dropped + stats.Ledger.Rejected == ledger.Total(DroppedCallback),
            "dropped+rejected={0} but OnDropped ran {1} times; {2}", stats.Ledger.Dropped + stats.Ledger.Rejected, ledger.Total(DroppedCallback), ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Cancelled == LedgerDisposedAfterAdmission(ledger, refusedAtCall),
            "cancelled={0}: waiting submissions refused by dispose; {1}", stats.Ledger.Cancelled, ledger.DescribeAll());
    }

    // Submissions refused while waiting for room are counted as submitted and cancelled; those refused at the call are not counted.
    private static long LedgerDisposedAfterAdmission(Ledger ledger, int refusedAtCall) => ledger.Total(Disposed) - refusedAtCall;

    private static async Task CancelVsDequeueAsync()
    {
        var ledger = new Ledger();
        var pool = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = 1, QueueCapacity = 2, Name = "coyote-cancel" });
        using var cts = new CancellationTokenSource();

        // The item's work may not end before Cancel() has returned. CancellationTokenRegistration.Dispose (which the
        // worker calls once the item ends) spin-waits for a callback running on another thread; the spin is invisible to
        // Coyote, so a schedule that paused the callback inside the pool's lock and let the worker finish the item would
        // hang the serialized run (a false deadlock). The race explored is the one that matters: the callback against the
        // worker taking the item from the queue and starting it.
        var cancelReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Item 1 keeps the worker busy for a scheduling step or two, so item 2 is really queued when the race starts.
        var first = pool.RunAsync(async _ =>
        {
            ledger.Record(1, Ran);
            await Task.Yield();
        });
        var second = pool.RunAsync(
            async _ =>
            {
                ledger.Record(2, Ran);
                await cancelReturned.Task;
                return 2;
            },
            cts.Token);
        var canceller = Task.Run(() =>
        {
            cts.Cancel();
            cancelReturned.SetResult();
        });

        await first;
        ledger.Record(1, Succeeded);
        try
        {
            _ = await second;
            ledger.Record(2, Succeeded);
        }
        catch (OperationCanceledException)
        {
            ledger.Record(2, Cancelled);
        }

        await canceller;
        await pool.DisposeAsync();

        ledger.AssertExactly(1, Tracked, Ran, Succeeded);
        var stats = pool.GetStatistics();
        if (ledger.Count(2, Succeeded) == 1)
        {
            ledger.AssertExactly(2, Tracked, Ran, Succeeded);
            Specification.Assert(stats.Ledger.Succeeded == 2 && stats.Ledger.Cancelled == 0, "completed={0} cancelled={1}", stats.Ledger.Succeeded, stats.Ledger.Cancelled);
        }
        else if (ledger.Count(2, Ran) == 1)
        {
            // Cancelled while running: the work ignored its token and finished, so the pool reports it as completed.
            // The awaiting caller must then see the result, not a cancellation.
            Specification.Assert(false, "item 2 ran to completion but its caller saw a cancellation; {0}", ledger.DescribeAll());
        }
        else
        {
            ledger.AssertExactly(2, Tracked, Cancelled);
            Specification.Assert(stats.Ledger.Succeeded == 1 && stats.Ledger.Cancelled == 1, "completed={0} cancelled={1}", stats.Ledger.Succeeded, stats.Ledger.Cancelled);
        }

        Specification.Assert(stats.Ledger.Submitted == 2, "submitted={0}", stats.Ledger.Submitted);
    }

    private static int IdOf(Dictionary<Delegate, int> ids, Delegate work)
    {
        lock (ids)
        {
            return ids[work];
        }
    }
}
