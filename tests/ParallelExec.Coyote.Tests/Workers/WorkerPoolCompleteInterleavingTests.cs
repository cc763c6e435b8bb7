using Microsoft.Coyote.Specifications;
using ParallelExec.Coyote.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Workers;

/// <summary>
/// Complete() racing intake under Coyote: awaited and posted submissions to a full queue (Wait mode) while intake
/// stops. Each item either runs (and its submitter is told so) or is refused with InvalidOperationException, at the call
/// or while it waited for room, never both; Completion ends only after every accepted item has ended.
/// </summary>
public sealed class WorkerPoolCompleteInterleavingTests(ITestOutputHelper output)
{
    private const string Ran = "ran";
    private const string Told = "told";
    private const string Refused = "refused";

    private static readonly string[] Tracked = [Ran, Told, Refused];

    [Fact]
    public void Intake_racing_Complete_runs_or_refuses_every_item_exactly_once() =>
        CoyoteExplorer.AssertNoBug(output, "WorkerPool.IntakeVsComplete", IntakeVsCompleteAsync, iterations: 150, seed: 109);

    private static async Task IntakeVsCompleteAsync()
    {
        var ledger = new Ledger();
        var pool = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = 1, QueueCapacity = 1, Name = "coyote-complete" });
        var refusedAtCall = 0;

        Func<CancellationToken, ValueTask> Work(int id) => async _ =>
        {
            ledger.Record(id, Ran);
            await Task.Yield();
        };

        async Task SubmitAsync(int id, bool awaited)
        {
            Task pending;
            try
            {
                pending = awaited ? pool.RunAsync(Work(id)).AsTask() : pool.PostAsync(Work(id)).AsTask();
            }
            catch (InvalidOperationException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, Refused);
                return;
            }

            try
            {
                await pending;
                ledger.Record(id, Told);
            }
            catch (InvalidOperationException exception) when (exception is not ItemDroppedException and not ObjectDisposedException)
            {
                ledger.Record(id, Refused);
            }
        }

        var producerA = Task.Run(async () =>
        {
            await SubmitAsync(1, awaited: true);
            await SubmitAsync(2, awaited: false);
            await SubmitAsync(3, awaited: true);
        });
        var producerB = Task.Run(async () =>
        {
            await SubmitAsync(4, awaited: false);
            await SubmitAsync(5, awaited: false);
        });
        var completer = Task.Run(async () =>
        {
            await Task.Yield();
            pool.Complete();
            await pool.Completion;
        });
        await Task.WhenAll(producerA, producerB, completer);

        // Completion has ended: every accepted item has run, and a posted one whose PostAsync returned ran too.
        for (var id = 1; id <= 5; id++)
        {
            if (ledger.Count(id, Refused) == 1)
            {
                ledger.AssertExactly(id, Tracked, Refused);
            }
            else
            {
                ledger.AssertExactly(id, Tracked, Ran, Told);
            }
        }

        var stats = pool.GetStatistics();
        Specification.Assert(stats.Ledger.IsBalanced && stats.Ledger.InFlight == 0 && stats.Ledger.Queued == 0, "after Completion: {0}", stats.Ledger);
        Specification.Assert(stats.Ledger.Succeeded == ledger.Total(Ran), "succeeded={0} but {1} ran; {2}", stats.Ledger.Succeeded, ledger.Total(Ran), ledger.DescribeAll());
        Specification.Assert(
            stats.Ledger.Cancelled == ledger.Total(Refused) - refusedAtCall,
            "cancelled={0}: the waiting submissions Complete refused; {1}", stats.Ledger.Cancelled, ledger.DescribeAll());
        await pool.DisposeAsync();
    }
}
