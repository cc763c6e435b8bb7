namespace ParallelExec.Batching;

// The MaxDelay trigger: one timer, re-armed for each batch that opens. The callback checks the open batch's age under the
// lock, so a stale firing (armed for a batch that has already gone by size) only re-arms for the current one.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private ITimer? CreateTimer()
    {
        if (_options.MaxDelay == Timeout.InfiniteTimeSpan)
        {
            return null;
        }

        // Suppress flow so the timer does not keep the creator's AsyncLocals alive.
        var restoreFlow = !ExecutionContext.IsFlowSuppressed();
        var flow = restoreFlow ? ExecutionContext.SuppressFlow() : default;
        try
        {
            return _time.CreateTimer(static state => ((BatchProcessor<TItem, TResult>)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        finally
        {
            if (restoreFlow)
            {
                flow.Undo();
            }
        }
    }

    private void ArmTimer(TimeSpan dueTime)
    {
        try
        {
            _timer?.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposal finished between the decision and here: nothing is open any more.
        }
    }

    private void OnTimer()
    {
        var effects = default(Effects);
        var rearm = TimeSpan.Zero;
        lock (_gate)
        {
            // Settling may seal a batch that appends filled; an empty open batch has no age.
            SettleOpenLocked(ref effects);
            if (_open.Count > 0)
            {
                var age = _time.GetElapsedTime(_open.OpenedAt);
                if (age >= _options.MaxDelay)
                {
                    effects.Start = SealLocked(BatchFlushReason.Time, ref effects);
                }
                else
                {
                    // A firing armed for an earlier batch: wait for this batch's own deadline.
                    rearm = _options.MaxDelay - age;
                }
            }

            ArmOpenLocked();
            AssertInvariants();
        }

        if (rearm > TimeSpan.Zero)
        {
            ArmTimer(rearm);
        }

        Apply(in effects);
    }
}
