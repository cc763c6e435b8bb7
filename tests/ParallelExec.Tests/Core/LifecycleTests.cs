using Microsoft.Extensions.Time.Testing;
using ParallelExec.Internal;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Core;

public class LifecycleTests
{
    [Fact]
    public void IntakeStopsOnceAndTheErrorSaysWhy()
    {
        var lifecycle = new Lifecycle();
        lifecycle.ThrowIfNotOpen("pool");

        Assert.True(lifecycle.TryStopIntake());
        Assert.False(lifecycle.TryStopIntake());
        var completed = Assert.Throws<InvalidOperationException>(() => lifecycle.ThrowIfNotOpen("pool"));
        Assert.Equal("'pool' was completed (Complete() was called): it accepts no more work.", completed.Message);

        Assert.True(lifecycle.TryBeginDispose());
        Assert.False(lifecycle.TryBeginDispose());
        var disposed = Assert.Throws<ObjectDisposedException>(() => lifecycle.ThrowIfNotOpen("pool"));
        Assert.Equal("pool", disposed.ObjectName);
        Assert.False(lifecycle.Completion.IsCompleted);

        lifecycle.SetCompleted();
        lifecycle.SetCompleted();
        Assert.True(lifecycle.Completion.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task DrainWaitsForTheWorkWithinTheTimeoutAndDoesNotCancelIt()
    {
        var time = new FakeTimeProvider();
        var work = new TaskCompletionSource();
        var cancelled = false;
        var drain = Lifecycle.DrainAsync(work.Task, TimeSpan.FromSeconds(5), time, () => cancelled = true);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(drain.IsCompleted);
        work.SetResult();
        await drain.WithTimeout();
        Assert.False(cancelled);
    }

    [Fact]
    public async Task WhenTheTimeoutPassesTheRestIsCancelledAndTheDrainWaitsForIt()
    {
        var time = new FakeTimeProvider();
        var work = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelThread = -1;
        var drain = Lifecycle.DrainAsync(work.Task, TimeSpan.FromSeconds(5), time, () =>
        {
            cancelThread = Environment.CurrentManagedThreadId;
            work.SetResult();
        });

        time.Advance(TimeSpan.FromSeconds(5));
        await drain.WithTimeout();
        Assert.NotEqual(-1, cancelThread);
        Assert.True(work.Task.IsCompleted);
    }

    [Fact]
    public async Task AZeroTimeoutCancelsAtOnceOnAThreadPoolThread()
    {
        var work = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var onPool = false;
        var drain = Lifecycle.DrainAsync(work.Task, TimeSpan.Zero, TimeProvider.System, () =>
        {
            onPool = Thread.CurrentThread.IsThreadPoolThread;
            work.SetResult();
        });

        await drain.WithTimeout();
        Assert.True(onPool);
    }

    [Fact]
    public async Task AnInfiniteTimeoutNeverCancels()
    {
        var work = new TaskCompletionSource();
        var drain = Lifecycle.DrainAsync(work.Task, Timeout.InfiniteTimeSpan, TimeProvider.System, () => throw new InvalidOperationException("must not cancel"));
        Assert.False(drain.IsCompleted);
        work.SetResult();
        await drain.WithTimeout();
    }
}
