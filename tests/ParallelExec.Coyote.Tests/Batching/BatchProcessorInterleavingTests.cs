using Microsoft.Coyote.Specifications;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Batching;

/// <summary>
/// BatchProcessor races under Coyote: the MaxDelay timer (fired by FakeTimeProvider.Advance from a concurrent task, so
/// the callback runs on a controlled operation) against the size trigger, FlushAsync and DisposeAsync. Each interleaving
/// checks that every item is in exactly one batch, no batch is larger than MaxBatchSize, every submitter completes
/// exactly once with its own result, FlushAsync returns only after the earlier batches were handled, and the statistics
/// agree.
/// </summary>
public sealed class BatchProcessorInterleavingTests(ITestOutputHelper output)
{
    private const int MaxBatchSize = 2;
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(10);

    [Fact]
    public void Timer_size_trigger_and_FlushAsync_racing_put_every_item_in_exactly_one_batch() =>
        CoyoteExplorer.AssertNoBug(output, "BatchProcessor.TimerVsSizeVsFlush", () => ExploreAsync(disposeConcurrently: false), iterations: 150, seed: 201);

    [Fact]
    public void Timer_size_trigger_and_FlushAsync_racing_DisposeAsync_end_every_submitter_exactly_once() =>
        CoyoteExplorer.AssertNoBug(output, "BatchProcessor.TimerVsSizeVsFlushVsDispose", () => ExploreAsync(disposeConcurrently: true), iterations: 150, seed: 202);

    private static async Task ExploreAsync(bool disposeConcurrently)
    {
        var time = new FakeTimeProvider();
        var ledger = new Ledger();
        var batches = new List<int[]>();
        var processor = new BatchProcessor<int, int>(
            async (items, _) =>
            {
                var batch = items.ToArray();
                lock (batches)
                {
                    batches.Add(batch);
                }

                await Task.Yield();
                foreach (var item in batch)
                {
                    ledger.Record(item, "handled");
                }

                return batch.Select(item => item * 10).ToArray();
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = MaxBatchSize,
                MaxDelay = MaxDelay,
                MaxDegreeOfParallelism = 2,
                QueueCapacity = 16,
                TimeProvider = time,
                Name = "coyote-batch",
            });

        var refusedAtCall = 0;

        async Task SubmitAsync(int id)
        {
            ValueTask<int> pending;
            try
            {
                pending = processor.SubmitAsync(id);
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref refusedAtCall);
                ledger.Record(id, "disposed");
                return;
            }

            var result = await pending;
            Specification.Assert(result == id * 10, "item {0} got result {1}", id, result);
            ledger.Record(id, "succeeded");
        }

        async Task<bool> FlushAsync()
        {
            try
            {
                await processor.FlushAsync();
                return true;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }

        // The race: submissions (their results are awaited afterwards, so no submitter depends on the clock), a flush,
        // the clock firing the MaxDelay timer twice, and optionally a dispose.
        var submissions = new List<Task>();
        void Submit(int id)
        {
            var submission = SubmitAsync(id);
            lock (submissions)
            {
                submissions.Add(submission);
            }
        }

        var pairSubmitter = Task.Run(() =>
        {
            // Two submissions back to back: together they may fill a batch (size trigger) or be split by the timer.
            Submit(1);
            Submit(2);
        });
        var lateSubmitter = Task.Run(async () =>
        {
            await Task.Yield();
            Submit(3);
        });
        var flusher = Task.Run(async () =>
        {
            Submit(4);
            if (await FlushAsync() && ledger.Count(4, "disposed") == 0)
            {
                // FlushAsync waits for every batch flushed before it, and item 4 was submitted before it.
                if (ledger.Count(4, "handled") != 1)
                {
                    var snapshot = processor.GetStatistics();
                    Specification.Assert(
                        false,
                        "FlushAsync returned before item 4 was handled; ledger: {0}; queued={1} running={2} bySize={3} byTime={4} byRequest={5}",
                        ledger.DescribeAll(), snapshot.Ledger.Queued, snapshot.RunningBatches, snapshot.FlushedBySize, snapshot.FlushedByTime, snapshot.FlushedByRequest);
                }
            }
        });
        var clock = Task.Run(async () =>
        {
            await Task.Yield();
            time.Advance(MaxDelay);
            await Task.Yield();
            time.Advance(MaxDelay);
        });
        var race = new List<Task> { pairSubmitter, lateSubmitter, flusher, clock };
        if (disposeConcurrently)
        {
            race.Add(Task.Run(async () =>
            {
                await Task.Yield();
                await processor.DisposeAsync();
            }));
        }

        await Task.WhenAll(race.ToArray());

        // An item still in the open batch is flushed by its timer (the batch opened at most MaxDelay ago), or by dispose.
        time.Advance(MaxDelay);
        Task[] all;
        lock (submissions)
        {
            all = [.. submissions];
        }

        await Task.WhenAll(all);
        await processor.DisposeAsync();

        int[][] seen;
        lock (batches)
        {
            seen = [.. batches];
        }

        foreach (var batch in seen)
        {
            Specification.Assert(batch.Length is > 0 and <= MaxBatchSize, "a batch of {0} items: [{1}]", batch.Length, string.Join(",", batch));
        }

        var succeeded = 0;
        for (var id = 1; id <= 4; id++)
        {
            var inBatches = seen.Count(batch => batch.Contains(id));
            var occurrences = seen.Sum(batch => batch.Count(item => item == id));
            if (ledger.Count(id, "succeeded") == 1)
            {
                succeeded++;
                Specification.Assert(inBatches == 1 && occurrences == 1, "item {0} is in {1} batches ({2} times); {3}", id, inBatches, occurrences, ledger.DescribeAll());
                ledger.AssertExactly(id, ["succeeded", "disposed", "handled"], "succeeded", "handled");
            }
            else
            {
                Specification.Assert(disposeConcurrently, "item {0} did not succeed without a concurrent dispose; {1}", id, ledger.DescribeAll());
                Specification.Assert(inBatches == 0, "item {0} was refused but is in {1} batches", id, inBatches);
                ledger.AssertExactly(id, ["succeeded", "disposed", "handled"], "disposed");
            }
        }

        var stats = processor.GetStatistics();
        Specification.Assert(stats.Ledger.Queued == 0 && stats.RunningBatches == 0, "after dispose: queued={0} running={1}", stats.Ledger.Queued, stats.RunningBatches);
        Specification.Assert(stats.Ledger.Submitted == 4 - refusedAtCall, "submitted={0}, refused at the call={1}", stats.Ledger.Submitted, refusedAtCall);
        Specification.Assert(
            stats.Ledger.Submitted == stats.Ledger.Succeeded + stats.Ledger.Failed + stats.Ledger.Cancelled + stats.Ledger.Dropped + stats.Ledger.Rejected,
            "statistics do not add up: submitted={0} succeeded={1} failed={2} cancelled={3} dropped={4} rejected={5}",
            stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Failed, stats.Ledger.Cancelled, stats.Ledger.Dropped, stats.Ledger.Rejected);
        Specification.Assert(stats.Ledger.Succeeded == succeeded, "succeeded={0} but {1} submitters got a result", stats.Ledger.Succeeded, succeeded);
        Specification.Assert(
            stats.Batches == seen.Length && stats.HandlerCalls == seen.Length,
            "batches={0} handlerCalls={1} but the handler saw {2} batches (bySize={3} byTime={4} byRequest={5} onDispose={6})",
            stats.Batches, stats.HandlerCalls, seen.Length, stats.FlushedBySize, stats.FlushedByTime, stats.FlushedByRequest, stats.FlushedOnDispose);
    }
}
