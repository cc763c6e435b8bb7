using Microsoft.Coyote.Specifications;
using ParallelExec.Coyote.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// WorkerPool lingering under Coyote. A worker whose last item completed synchronously and that finds nothing to run
/// becomes the lingering worker: a submission hands it the next item under the lock, and otherwise it gives up under
/// the lock and parks. (In the Coyote build it looks once and gives up, so the hand-off and the give-up race on every
/// schedule.) The scenario: two workers, a caller awaiting quick items one after another (the pattern that makes a
/// worker linger), a producer posting quick items, a resize down to one worker and back, and DisposeAsync racing all of
/// it. Each interleaving checks that every item ends exactly once, that the pool disposes (no item handed to a worker
/// that had already parked is lost, which would hang the drain), and that the statistics match the ledger.
/// </summary>
public sealed class WorkerPoolLingerInterleavingTests(ITestOutputHelper output)
{
    private const string Ran = "ran";
    private const string Succeeded = "succeeded";
    private const string Accepted = "accepted";
    private const string Disposed = "disposed";

    private const int AwaitedItems = 4;
    private const int PostedItems = 4;

    private static readonly string[] Tracked = [Ran, Succeeded, Accepted, Disposed];

    [Theory]
    [InlineData(121u)]
    [InlineData(122u)]
    public void Items_handed_to_a_lingering_worker_end_exactly_once(uint seed) =>
        CoyoteExplorer.AssertNoBug(output, "WorkerPool.Linger", LingerVsResizeAndDisposeAsync, iterations: 150, seed);

    private static async Task LingerVsResizeAndDisposeAsync()
    {
        var ledger = new Ledger();
        var pool = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = 2, QueueCapacity = 8, Name = "coyote-linger" });
        var refusedAtCall = 0;

        Func<CancellationToken, ValueTask> Work(int id) => _ =>
        {
            ledger.Record(id, Ran);
            return ValueTask.CompletedTask;
        };

        var awaiting = Task.Run(async () =>
        {
            for (var id = 1; id <= AwaitedItems; id++)
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
                    continue;
                }

                await pending;
                ledger.Record(id, Succeeded);
            }
        });
        var posting = Task.Run(async () =>
        {
            for (var id = AwaitedItems + 1; id <= AwaitedItems + PostedItems; id++)
            {
                try
                {
                    var result = await pool.PostAsync(Work(id));
                    Specification.Assert(result == PostResult.Accepted, "item {0} was not accepted: {1}", id, result);
                    ledger.Record(id, Accepted);
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref refusedAtCall);
                    ledger.Record(id, Disposed);
                }
            }
        });
        var resizing = Task.Run(async () =>
        {
            try
            {
                pool.SetMaxDegreeOfParallelism(1);
                await Task.Yield();
                pool.SetMaxDegreeOfParallelism(2);
            }
            catch (ObjectDisposedException)
            {
                // Disposal won the race: nothing to resize.
            }
        });
        var disposer = Task.Run(async () =>
        {
            await Task.Yield();
            await Task.Yield();
            await pool.DisposeAsync();
        });
        await Task.WhenAll(awaiting, posting, resizing, disposer);

        for (var id = 1; id <= AwaitedItems + PostedItems; id++)
        {
            if (ledger.Count(id, Disposed) == 1)
            {
                ledger.AssertExactly(id, Tracked, Disposed);
            }
            else
            {
                // No drain timeout: every accepted item runs before the drain completes.
                ledger.AssertExactly(id, Tracked, id <= AwaitedItems ? [Ran, Succeeded] : [Accepted, Ran]);
            }
        }

        var stats = pool.GetStatistics();
        Specification.Assert(stats.Ledger.Queued == 0 && stats.Ledger.InFlight == 0, "after dispose: queued={0} running={1}", stats.Ledger.Queued, stats.Ledger.InFlight);
        Specification.Assert(
            stats.Ledger.Submitted == AwaitedItems + PostedItems - refusedAtCall,
            "submitted={0}, refused at the call {1}; {2}", stats.Ledger.Submitted, refusedAtCall, ledger.DescribeAll());
        Specification.Assert(stats.Ledger.Succeeded == ledger.Total(Ran), "completed={0} but {1} ran; {2}", stats.Ledger.Succeeded, ledger.Total(Ran), ledger.DescribeAll());
    }
}
