namespace ParallelExec.Batching;

// FlushAsync: seal the open batch now and wait for every batch flushed up to that moment (by sequence number) to end.
public sealed partial class BatchProcessor<TItem, TResult>
{
    /// <summary>
    /// Flushes the open batch now and waits until every batch flushed before this call (including it) has been handled.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the flush itself has happened).</param>
    /// <returns>A task that completes when those batches have been handled.</returns>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        var effects = default(Effects);
        Task? wait = null;
        lock (_gate)
        {
            if (_lifecycle.IsDisposing)
            {
                ThrowClosed();
            }

            SettleOpenLocked(ref effects);
            if (_open.Count > 0)
            {
                effects.Start = SealLocked(BatchFlushReason.Forced, ref effects);
                AssertInvariants();
            }

            ArmOpenLocked();

            if (HasOutstandingLocked(_sequence))
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                (_flushWaiters ??= []).Add((_sequence, done));
                wait = done.Task;
            }
        }

        Apply(in effects);
        return wait is null ? default : new ValueTask(wait.WaitAsync(cancellationToken));
    }

    private bool HasOutstandingLocked(long sequence)
    {
        if (_ready.Count > 0 && _ready[0].Sequence <= sequence)
        {
            return true;
        }

        foreach (var running in _running)
        {
            if (running.Sequence <= sequence)
            {
                return true;
            }
        }

        return false;
    }

    private List<TaskCompletionSource>? TakeCompletedFlushWaitersLocked()
    {
        if (_flushWaiters is not { Count: > 0 } waiters)
        {
            return null;
        }

        List<TaskCompletionSource>? done = null;
        for (var i = waiters.Count - 1; i >= 0; i--)
        {
            if (!HasOutstandingLocked(waiters[i].Sequence))
            {
                (done ??= []).Add(waiters[i].Done);
                waiters.RemoveAt(i);
            }
        }

        return done;
    }

    private static void CompleteAll(List<TaskCompletionSource>? waiters)
    {
        if (waiters is null)
        {
            return;
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult();
        }
    }
}
