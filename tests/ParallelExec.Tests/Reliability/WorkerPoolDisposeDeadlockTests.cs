using System.Reflection;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// Regression for the deadlock the stress suite found (RELIABILITY.md, bug 2), with the interleaving forced: a queued
/// item's caller token fires while <c>DisposeAsync()</c> with a zero drain timeout holds the pool's lock. Before the fix,
/// DisposeAsync ran DisposeCoreAsync -> CancelRemaining -> Drop -> CancellationTokenRegistration.Dispose under the lock,
/// waiting for the running OnItemCancelled callback, which waited for the lock.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class WorkerPoolDisposeDeadlockTests
{
    [Fact]
    public async Task Dispose_with_a_zero_deadline_does_not_deadlock_with_a_cancellation_callback_of_a_queued_item()
    {
        var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithQueue(8, QueueFullMode.Wait).WithDrainTimeout(TimeSpan.Zero).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<int> blocker = pool.RunAsync(async ct =>
        {
            running.TrySetResult();
            await release.Task.WaitAsync(ct);
            return 0;
        });
        await running.Task.WithTimeout();

        // Queued behind the blocker, with a token whose callback we fire while the pool's lock is held.
        using var cts = new CancellationTokenSource();
        ValueTask<int> queued = pool.RunAsync(_ => new ValueTask<int>(1), cts.Token);
        object lockField = typeof(WorkerPool).GetField("_lock", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(pool)!;
#if NET9_0_OR_GREATER
        // On net9+ the pool's lock is a System.Threading.Lock (a Monitor on it would not exclude the pool).
        var poolLock = (Lock)lockField;
        Action enterLock = poolLock.Enter, exitLock = poolLock.Exit;
#else
        // On net8.0 the pool locks a plain object (the lock statement, a Monitor): the same Monitor excludes it.
        Assert.IsType<object>(lockField);
        Action enterLock = () => Monitor.Enter(lockField), exitLock = () => Monitor.Exit(lockField);
#endif

        var disposeReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disposer = new Thread(() =>
        {
            // Stands for DisposeAsync having taken _lock (line "lock (_lock)" in DisposeAsync) when the token fires.
            enterLock();
            try
            {
                var canceller = new Thread(() => cts.Cancel()) { IsBackground = true };
                canceller.Start();
                // The callback (OnItemCancelled) is now running and blocked on _lock.
                SpinWait.SpinUntil(() => (canceller.ThreadState & ThreadState.WaitSleepJoin) != 0, TestTimeout.Unexpected);
                _ = pool.DisposeAsync();
                disposeReturned.TrySetResult();
            }
            finally
            {
                exitLock();
            }
        })
        { IsBackground = true };
        disposer.Start();

        await disposeReturned.Task.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => Assert.True(
            t.IsCompletedSuccessfully,
            "DisposeAsync() with a zero drain timeout did not return within 10 s: it waits (CancellationTokenRegistration.Dispose in Drop) for the queued item's cancellation callback, which waits for the pool lock DisposeAsync holds"));
        release.TrySetResult();
        await Assert.ThrowsAnyAsync<Exception>(async () => await queued).WithTimeout();
        await blocker.AsTask().ContinueWith(_ => { }).WithTimeout();
    }
}
