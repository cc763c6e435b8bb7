using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

/// <summary>The gate's lifecycle: Complete, Completion, DisposeAsync with its drain timeout, and the ledger they leave.</summary>
public sealed class HttpGateLifecycleTests
{
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task CompleteStopsIntakeWhileRunningWaitingAndRetriedCallsStillEndAndCompletionWaitsForThem()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).WithTimeProvider(time).RetryOnThrottle().Build();
        var release = NewSignal();
        var attempts = 0;
        var running = gate.RunAsync("a", async _ =>
        {
            await release.Task;
            return "running";
        });
        var waiting = gate.RunAsync("b", _ => Interlocked.Increment(ref attempts) == 1
            ? throw new ProviderThrottledException("b", TimeSpan.FromSeconds(3))
            : ValueTask.FromResult("retried"));
        Assert.Equal(1, gate.GetStatistics().Ledger.Queued);

        gate.Complete();
        gate.Complete(); // idempotent

        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => gate.RunAsync("a", _ => ValueTask.FromResult("late")));
        Assert.Equal("'HttpGate' was completed (Complete() was called): it accepts no more work.", refused.Message);
        Assert.Throws<InvalidOperationException>(() => gate.Coalesce<int, int>("a", (items, _) => ValueTask.FromResult<IReadOnlyList<int>>(items)));
        Assert.False(gate.Completion.IsCompleted);

        // The waiting call runs once the running one ends, is throttled, and its retry (after Complete) waits out the pause.
        release.SetResult();
        Assert.Equal("running", await running.WithTimeout());
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Throttled == 1);
        Assert.False(gate.Completion.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(3));

        Assert.Equal("retried", await waiting.WithTimeout());
        await gate.Completion.WithTimeout();
        var statistics = gate.GetStatistics();
        Assert.Equal((2L, 2L, 3L), (statistics.Ledger.Submitted, statistics.Ledger.Succeeded, statistics.Admitted));
        Assert.True(statistics.Ledger.IsBalanced, statistics.Ledger.ToString());

        await gate.DisposeAsync().WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => gate.RunAsync("a", _ => ValueTask.FromResult("disposed")));
    }

    [Fact]
    public async Task CompletionOfAnIdleGateEndsAtCompleteAndDisposeEndsItToo()
    {
        await using var completed = Exec.Http().Build();
        Assert.False(completed.Completion.IsCompleted);
        completed.Complete();
        await completed.Completion.WithTimeout();

        var disposed = Exec.Http().Build();
        Assert.Equal(42, await disposed.RunAsync("a", _ => ValueTask.FromResult(42)));
        await disposed.DisposeAsync().WithTimeout();
        Assert.True(disposed.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task AZeroDrainTimeoutCancelsRunningCallsAtOnceAndReportsThemAndCompletionDoesNotFault()
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        var gate = Exec.Http().WithDrainTimeout(TimeSpan.Zero).OnDropped(dropped.Enqueue).Build();
        var started = NewSignal();
        Func<CancellationToken, ValueTask<int>> call = async token =>
        {
            started.SetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 0;
        };
        var running = gate.RunAsync("p", call);
        await started.Task.WithTimeout();

        await gate.DisposeAsync().WithTimeout();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WithTimeout();
        var report = Assert.Single(dropped);
        Assert.Same(call, report.Item);
        Assert.Equal(("p", DropReason.DrainTimeout), (report.Key, report.Reason));
        Assert.True(gate.Completion.IsCompletedSuccessfully);
        Assert.Equal(1, gate.GetStatistics().Ledger.Dropped);
    }

    [Fact]
    public async Task ACallCancelledByItsOwnTokenIsCountedCancelledAndNotReportedAsDropped()
    {
        var dropped = new ConcurrentQueue<DroppedItem>();
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).OnDropped(dropped.Enqueue).Build();
        var release = NewSignal();
        var blocker = gate.RunAsync("p", async _ =>
        {
            await release.Task;
            return 0;
        });
        using var waitingCts = new CancellationTokenSource();
        var waiting = gate.RunAsync("p", _ => ValueTask.FromResult(1), cancellationToken: waitingCts.Token);
        using var runningCts = new CancellationTokenSource();
        await waitingCts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting).WithTimeout();
        release.SetResult();
        await blocker.WithTimeout();

        var running = gate.RunAsync("p", async token =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 2;
        }, cancellationToken: runningCts.Token);
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Ledger.InFlight == 1);
        await runningCts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WithTimeout();

        // Awaited calls: the caller gets the cancellation; OnDropped is for what the gate itself ended.
        Assert.Empty(dropped);
        var ledger = gate.GetStatistics().Ledger;
        Assert.Equal((3L, 1L, 2L, 0L), (ledger.Submitted, ledger.Succeeded, ledger.Cancelled, ledger.Dropped));
        Assert.True(ledger.IsBalanced, ledger.ToString());
    }

    [Fact]
    public async Task TheGateIsAnExecComponentWhoseStatisticsCarryItsNameAndLedger()
    {
        await using var gate = Exec.Http().WithName("llm-gate").Build();
        await gate.RunAsync("p", _ => ValueTask.FromResult(1));
        await Assert.ThrowsAsync<InvalidDataException>(() => gate.RunAsync<int>("p", _ => throw new InvalidDataException("boom")));

        IExecComponent component = gate;
        var statistics = Assert.IsType<HttpGateStatistics>(component.GetStatistics());
        Assert.Equal("llm-gate", component.Name);
        Assert.Equal("llm-gate", statistics.Name);
        Assert.Equal((2L, 1L, 1L), (statistics.Ledger.Submitted, statistics.Ledger.Succeeded, statistics.Ledger.Failed));
        Assert.Equal("HttpGate", new HttpGateOptions().Name);
    }
}
