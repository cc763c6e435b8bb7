using System.Reflection;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// Regression for the deadlock the stress suite found (docs/reliability-log.md, "Found and fixed"), with the interleaving
/// forced: a queued item's caller token fires while <c>DisposeAsync()</c> with a zero drain timeout holds the pool's
/// lock. Before the fix, DisposeAsync ran DisposeCoreAsync -> CancelRemaining -> Drop ->
/// CancellationTokenRegistration.Dispose under the lock, waiting for the running OnItemCancelled callback, which waited
/// for the lock.
/// </summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class WorkerPoolDisposeDeadlockTests(ITestOutputHelper output)
{
    private const int Attempts = 20;

    /// <summary>How one attempt went.</summary>
    private readonly record struct Attempt(bool Raced, Exception QueuedOutcome, Exception? BlockerOutcome);

    [Fact]
    public async Task Dispose_with_a_zero_deadline_does_not_deadlock_with_a_cancellation_callback_of_a_queued_item()
    {
        var attempts = new List<Attempt>();
        for (int i = 0; i < Attempts; i++)
        {
            attempts.Add(await RunAttemptAsync());
        }

        int raced = attempts.Count(a => a.Raced);
        int cancelled = attempts.Count(a => a.QueuedOutcome is OperationCanceledException);
        int cut = attempts.Count(a => a.QueuedOutcome is ItemDroppedException);
        output.WriteLine($"attempts={Attempts} raced={raced} queuedCancelled={cancelled} queuedCutByDrainTimeout={cut}");

        // The race is forced, not hoped for: in every attempt the cancellation callback was inside Cancel(), blocked on
        // the pool's lock, when DisposeAsync ran under that lock.
        Assert.Equal(Attempts, raced);
        foreach (Attempt attempt in attempts)
        {
            // The queued item ends exactly one of the two documented ways: its caller's cancellation (the callback won
            // the lock after DisposeAsync released it) or the zero drain timeout (disposal cut it first).
            Assert.True(
                attempt.QueuedOutcome is OperationCanceledException { CancellationToken.IsCancellationRequested: true }
                || attempt.QueuedOutcome is ItemDroppedException { Reason: DropReason.DrainTimeout },
                $"queued item ended with {attempt.QueuedOutcome}");

            // The running blocker is never released: the zero drain timeout cancels its token, its work throws, and
            // its caller gets ItemDroppedException(DrainTimeout), as docs/conventions.md promises for an awaited item
            // the drain timeout ended (not the work's own OperationCanceledException).
            Assert.True(
                attempt.BlockerOutcome is ItemDroppedException { Reason: DropReason.DrainTimeout },
                $"blocker ended with {attempt.BlockerOutcome?.ToString() ?? "success"}");
        }

        Assert.Equal(Attempts, cancelled + cut);
    }

    private static async Task<Attempt> RunAttemptAsync()
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

        bool raced = false;
        var disposeReturned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var disposer = new Thread(() =>
        {
            // Stands for DisposeAsync having taken _lock (line "lock (_lock)" in DisposeAsync) when the token fires.
            enterLock();
            try
            {
                var canceller = new Thread(() => cts.Cancel()) { IsBackground = true };
                canceller.Start();
                // The callback (OnItemCancelled) runs inside Cancel() and blocks on _lock: the canceller thread is then
                // alive, the token cancelled, and the thread waiting. Cancel() cannot return while we hold the lock.
                bool blocked = SpinWait.SpinUntil(() => (canceller.ThreadState & ThreadState.WaitSleepJoin) != 0, TestTimeout.Unexpected);
                raced = blocked && canceller.IsAlive && cts.IsCancellationRequested;
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
        // The blocker is never released: only the zero drain timeout can end it.
        Exception queuedOutcome = await Assert.ThrowsAnyAsync<Exception>(async () => await queued).WithTimeout();
        Exception? blockerOutcome = await Record.ExceptionAsync(async () => await blocker).WithTimeout();
        release.TrySetResult();
        await pool.DisposeAsync().AsTask().WithTimeout();
        return new Attempt(raced, queuedOutcome, blockerOutcome);
    }
}
