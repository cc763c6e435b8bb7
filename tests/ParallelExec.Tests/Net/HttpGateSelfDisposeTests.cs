using System.Collections.Concurrent;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

/// <summary>A call through the gate that awaits the gate's own DisposeAsync must not wait for itself.</summary>
public sealed class HttpGateSelfDisposeTests
{
    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task Call_disposing_its_own_gate_returns_once_the_other_calls_ended_and_outside_callers_wait_for_it()
    {
        var gate = Exec.Http().WithMaxDegreeOfParallelism(2).Build();
        var ended = new ConcurrentQueue<string>();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var selfFinish = NewSignal();
        var otherStarted = NewSignal();
        var releaseOther = NewSignal();
        var insideDispose = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        string[]? endedWhenDisposeReturned = null;
        try
        {
            var self = gate.RunAsync("p", async _ =>
            {
                selfStarted.SetResult();
                await selfGo.Task;
                var disposing = gate.DisposeAsync().AsTask();
                insideDispose.SetResult(disposing);
                await disposing;
                endedWhenDisposeReturned = [.. ended];
                await selfFinish.Task;
                return "self";
            });
            await selfStarted.Task.WithTimeout();
            var other = gate.RunAsync("p", async _ =>
            {
                otherStarted.SetResult();
                await releaseOther.Task;
                ended.Enqueue("other");
                return "other";
            });
            await otherStarted.Task.WithTimeout();
            var queued = Enumerable.Range(0, 3).Select(i => gate.RunAsync("p", _ =>
            {
                ended.Enqueue($"q{i}");
                return ValueTask.FromResult($"q{i}");
            })).ToList();
            Assert.Equal(3, gate.GetStatistics().Ledger.Queued);

            selfGo.SetResult();
            var fromInside = await insideDispose.Task.WithTimeout();
            Assert.False(fromInside.IsCompleted); // "other" still runs and three calls wait for a permit
            await Assert.ThrowsAsync<ObjectDisposedException>(() => gate.RunAsync("p", _ => ValueTask.FromResult("late")));
            var fromOutside = gate.DisposeAsync().AsTask();

            releaseOther.SetResult();
            await fromInside.WithTimeout();
            await TestTimeout.WaitUntilAsync(() => endedWhenDisposeReturned is not null);
            Assert.Equal(["other", "q0", "q1", "q2"], endedWhenDisposeReturned!);
            Assert.False(fromOutside.IsCompleted); // the outside call waits for the call that disposed the gate too

            selfFinish.SetResult();
            await fromOutside.WithTimeout();
            Assert.Equal("self", await self.WithTimeout());
            Assert.Equal("other", await other.WithTimeout());
            var results = await Task.WhenAll(queued).WithTimeout();
            Assert.Equal(["q0", "q1", "q2"], results);
            var statistics = gate.GetStatistics();
            Assert.Equal((5, 0), (statistics.Admitted, statistics.Ledger.Dropped));
        }
        finally
        {
            releaseOther.TrySetResult();
            selfFinish.TrySetResult();
        }
    }

    [Fact]
    public async Task Call_disposing_from_the_only_permit_returns_at_once_and_the_waiting_calls_run_after_it()
    {
        var gate = Exec.Http().WithMaxDegreeOfParallelism(1).Build();
        var order = new ConcurrentQueue<string>();
        var selfStarted = NewSignal();
        var selfGo = NewSignal();
        var self = gate.RunAsync("p", async _ =>
        {
            selfStarted.SetResult();
            await selfGo.Task;
            await gate.DisposeAsync(); // the waiting calls need this call's permit
            order.Enqueue("self");
            return true;
        });
        await selfStarted.Task.WithTimeout();
        var queued = Enumerable.Range(0, 2).Select(i => gate.RunAsync("p", _ =>
        {
            order.Enqueue($"q{i}");
            return ValueTask.FromResult(i);
        })).ToList();

        selfGo.SetResult();
        Assert.True(await self.WithTimeout());
        var results = await Task.WhenAll(queued).WithTimeout();
        Assert.Equal([0, 1], results);
        await gate.DisposeAsync().WithTimeout();
        Assert.Equal(["self", "q0", "q1"], order);
        Assert.Equal(3, gate.GetStatistics().Admitted);
    }
}
