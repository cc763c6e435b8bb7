using ParallelExec.Pipelines;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Pipelines;

/// <summary>Completion and faults with each failure policy, the caller's cancellation, the drain timeout, and a failing source.</summary>
public class PipelineFailureTests
{
    [Fact]
    public async Task StopCancelsWhatIsInFlightAndAccountsForEveryItemRead()
    {
        const int Count = 10_000;
        var endings = new int[Count];
        var dropReasons = new List<DropReason>();
        var pipeline = Exec.Pipeline<int>()
            .WithFailurePolicy(PipelineFailurePolicy.Stop)
            .OnError(failed => Interlocked.Increment(ref endings[(int)failed.Item!]))
            .OnDropped(dropped =>
            {
                lock (dropReasons)
                {
                    dropReasons.Add(dropped.Reason);
                }

                Interlocked.Increment(ref endings[(int)dropped.Item!]);
            })
            .Select(i => i, stage => stage.WithQueue(4))
            .Select(async (i, ct) =>
            {
                await Task.Yield();
                return i == 100 ? throw new InvalidOperationException("item 100") : i;
            }, stage => stage.WithName("work").WithQueue(4).WithMaxDegreeOfParallelism(2).WithResultOrder(ResultOrder.Completion))
            .ForEach(async (i, ct) =>
            {
                await Task.Yield();
                Interlocked.Increment(ref endings[i]);
            }, stage => stage.WithQueue(4));

        var result = await pipeline.RunAsync(Enumerable.Range(0, Count)).WithTimeout();

        Assert.Equal(PipelineOutcome.Stopped, result.Outcome);
        Assert.Equal("item 100", result.Failure!.Message);
        var thrown = Assert.Throws<PipelineFailedException>(result.ThrowIfFailed);
        Assert.Same(result.Failure, thrown.InnerException);
        Assert.Equal(1, result["work"].Failed);

        var read = result["select"].Entered;
        Assert.True(read < Count, $"The source was read to the end ({read}) although the run stopped.");
        for (var id = 0; id < Count; id++)
        {
            Assert.True(endings[id] == (id < read ? 1 : 0), $"Item {id} ended {endings[id]} times (read: {id < read}).");
        }

        foreach (var stage in result.Stages)
        {
            Assert.Equal(stage.Entered, stage.Left + stage.Failed + stage.Filtered + stage.Dropped);
        }

        Assert.All(dropReasons, reason => Assert.Equal(DropReason.Cancelled, reason));
    }

    [Fact]
    public async Task SkipAndReportGoesOnAfterAFailure()
    {
        var failures = new List<FailedItem>();
        var sum = 0;
        var result = await Exec.Pipeline<int>()
            .OnError(failed =>
            {
                lock (failures)
                {
                    failures.Add(failed);
                }
            })
            .WithName("skip")
            .Select(i => i % 10 == 0 ? throw new FormatException($"bad {i}") : i, stage => stage.WithName("parse"))
            .ForEach(i => sum += i)
            .RunAsync(Enumerable.Range(1, 100))
            .WithTimeout();

        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        result.ThrowIfFailed();
        Assert.Equal(10, failures.Count);
        Assert.All(failures, failed => Assert.Equal(("skip", "parse"), (failed.Component, (string)failed.Key!)));
        Assert.Equal(Enumerable.Range(1, 100).Where(i => i % 10 != 0).Sum(), sum);
        Assert.Equal(90, result["foreach"].Left);
    }

    [Fact]
    public async Task TheCallersTokenCancelsTheRunAndReportsWhatWasInside()
    {
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var dropped = 0;
        var pipeline = Exec.Pipeline<int>()
            .OnDropped(item =>
            {
                Assert.Equal(DropReason.Cancelled, item.Reason);
                Interlocked.Increment(ref dropped);
            })
            .Select(i => i, stage => stage.WithQueue(8))
            .ForEach(async (i, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }, stage => stage.WithQueue(8));

        var running = pipeline.RunAsync(Enumerable.Range(0, 1000), cts.Token);
        await started.Task.WithTimeout();
        await cts.CancelAsync();
        var result = await running.WithTimeout();

        Assert.Equal(PipelineOutcome.Cancelled, result.Outcome);
        Assert.Throws<OperationCanceledException>(result.ThrowIfFailed);
        var entered = result["select"].Entered;
        Assert.True(entered is > 0 and < 1000, $"Entered {entered}.");
        Assert.Equal(entered, dropped);
        Assert.Equal(entered, result.Dropped);
    }

    [Fact]
    public async Task CancellingFreesOrderedWorkersWaitingForTheReorderWindowAndEveryItemEndsOnce()
    {
        // Item 0 runs until cancelled; the items after it finish at once but cannot pass it, so the two-item reorder
        // window fills and the other workers wait for a permit. Cancelling must wake them, and every item read must end
        // exactly once: passed on to the sink, or dropped at the stage it was in.
        using var cts = new CancellationTokenSource();
        var blocking = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ends = new System.Collections.Concurrent.ConcurrentDictionary<int, string>();
        var duplicates = 0;
        void End(int id, string how)
        {
            if (!ends.TryAdd(id, how))
            {
                Interlocked.Increment(ref duplicates);
            }
        }

        var pipeline = Exec.Pipeline<int>()
            .OnDropped(item => End((int)item.Item!, "dropped at " + item.Key))
            .Select(async (i, ct) =>
            {
                if (i == 0)
                {
                    blocking.TrySetResult();
                    await Task.Delay(Timeout.Infinite, ct);
                }

                return i;
            }, stage => stage.WithName("ordered").WithMaxDegreeOfParallelism(4).WithQueue(2).WithResultOrder(ResultOrder.Input))
            .ForEach(i => End(i, "left"), stage => stage.WithName("sink"));

        var running = pipeline.RunAsync(Enumerable.Range(0, 100), cts.Token);
        await blocking.Task.WithTimeout();
        await cts.CancelAsync();
        var result = await running.WithTimeout();

        Assert.Equal(PipelineOutcome.Cancelled, result.Outcome);
        Assert.Equal(0, duplicates);
        var entered = result["ordered"].Entered;
        Assert.True(entered is >= 2 and < 100, $"Entered {entered}.");
        Assert.Equal(Enumerable.Range(0, (int)entered), ends.Keys.Order());
        Assert.Equal("dropped at ordered", ends[0]);
        Assert.DoesNotContain("left", ends.Values);
        Assert.Equal(entered, result.Dropped);
    }

    [Fact]
    public async Task TheDrainTimeoutCutsWhatIsLeftOnThePipelinesClock()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reasons = new List<DropReason>();
        var pipeline = Exec.Pipeline<int>()
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(5))
            .OnDropped(item =>
            {
                lock (reasons)
                {
                    reasons.Add(item.Reason);
                }
            })
            .ForEach(async (i, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }, stage => stage.WithQueue(4));

        var run = pipeline.Start(Enumerable.Range(0, 3));
        await started.Task.WithTimeout();
        await TestTimeout.WaitUntilAsync(() => run.GetStatistics().Stages[0].Entered == 3);
        var disposal = run.DisposeAsync().AsTask();
        Assert.False(disposal.IsCompleted);

        // The drain timer was registered on the fake clock by DisposeAsync itself.
        time.Advance(TimeSpan.FromSeconds(5));
        await disposal.WithTimeout();

        var result = await run.Result;
        Assert.Equal(PipelineOutcome.Cancelled, result.Outcome);
        Assert.Equal(3, reasons.Count);
        Assert.All(reasons, reason => Assert.Equal(DropReason.DrainTimeout, reason));
        Assert.True(run.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task ASourceThatThrowsStopsIntakeAndTheItemsReadFinish()
    {
        static IEnumerable<int> Broken()
        {
            for (var i = 0; i < 10; i++)
            {
                yield return i;
            }

            throw new IOException("disk gone");
        }

        var seen = 0;
        var result = await Exec.Pipeline<int>().ForEach(_ => Interlocked.Increment(ref seen)).RunAsync(Broken()).WithTimeout();

        Assert.Equal(PipelineOutcome.Stopped, result.Outcome);
        Assert.IsType<IOException>(result.Failure);
        Assert.Equal(10, seen);
        Assert.Equal(10, result["foreach"].Left);
    }

    [Theory]
    [InlineData("enumerable")]
    [InlineData("async-enumerable")]
    public async Task ASourceThatThrowsItsOwnCancellationIsASourceFailureNotACancelledRun(string kind)
    {
        // A source's own OperationCanceledException (a timeout inside it, not the run's token) is its failure: the run
        // stops with it, as for any other exception, instead of the pump ending unobserved.
        static IEnumerable<int> Broken()
        {
            for (var i = 0; i < 5; i++)
            {
                yield return i;
            }

            throw new OperationCanceledException("the source's own timeout");
        }

        static async IAsyncEnumerable<int> BrokenAsync()
        {
            foreach (var i in Broken())
            {
                await Task.Yield();
                yield return i;
            }
        }

        var seen = 0;
        var pipeline = Exec.Pipeline<int>().ForEach(_ => Interlocked.Increment(ref seen));
        var result = await (kind == "enumerable" ? pipeline.RunAsync(Broken()) : pipeline.RunAsync(BrokenAsync())).WithTimeout();

        Assert.Equal(PipelineOutcome.Stopped, result.Outcome);
        Assert.Equal("the source's own timeout", Assert.IsType<OperationCanceledException>(result.Failure).Message);
        Assert.Equal((5, 5L), (seen, result["foreach"].Left));
    }
}
