using ParallelExec.Internal;

namespace ParallelExec.Batching;

// The fast path of admission: appending to the open batch without the lock. Taking a lock costs about two atomic
// operations per item, half of what a fire-and-forget submission cost in all; an append costs one (PendingBatch.Appends).
//
// The open batch is armed (under the lock) only when nothing an append skips could matter: no coalescing, nobody
// listening for the submitters' trace links, intake open, and room in the queue for every armed slot, so that no
// full-mode decision can be needed. Every other path settles the open batch first (SettleOpenLocked), which makes it
// exactly what the same appends under the lock would have made it; the rest of the processor never sees an armed
// batch's slots. Appends are for fire-and-forget posts and awaited submissions without a cancellable token; a
// submission the fast path does not take goes through Enqueue as before.
public sealed partial class BatchProcessor<TItem, TResult>
{
    /// <summary>Appends to the open batch without the lock when it is armed; false when the caller must take the lock.</summary>
    private bool TryAppend(TItem item, BatchItemSource<TItem, TResult>? caller)
    {
        if (!_lifecycle.IsOpen)
        {
            return false;
        }

        var open = Volatile.Read(ref _open);
        var index = open.TryTakeSlot(out var last);
        if (index < 0)
        {
            return false;
        }

        long openedAt = 0;
        try
        {
            if (index == 0)
            {
                // The batch's age starts with its first item.
                openedAt = _time.GetTimestamp();
            }
        }
        finally
        {
            // A taken slot is published even when the clock throws: the lock holder that settles the batch waits for it.
            if (index == 0)
            {
                open.OpenedAt = openedAt;
            }

            open.Publish(index, item, caller);
        }

        try
        {
            // Before the batch can start, so that no item is seen ending before it was counted submitted.
            if (_submittedCounter.Enabled)
            {
                _reporter.Submitted();
            }
        }
        finally
        {
            // A throwing meter listener reaches the caller, but cannot keep the batch from being timed or sealed.
            if (index == 0 && _timer is not null)
            {
                ArmTimer(_options.MaxDelay);
            }

            if (last)
            {
                SealAppended(open);
            }
        }

        return true;
    }

    /// <summary>The taker of an armed batch's last slot seals it by size (unless someone settled it first).</summary>
    private void SealAppended(PendingBatch<TItem, TResult> batch)
    {
        var effects = default(Effects);
        lock (_gate)
        {
            if (!ReferenceEquals(_open, batch) || !batch.IsArmed)
            {
                return;
            }

            // Seals it when full (unless an adaptive size grew meanwhile: then it stays open, armed up to the new size).
            SettleOpenLocked(ref effects);
            ArmOpenLocked();
            AssertInvariants();
        }

        Apply(in effects);
    }

    /// <summary>
    /// Takes the open batch's appended slots into the counts and closes it to appends (see PendingBatch.SettleAppends);
    /// seals it by size when the appends filled it, since its last slot's taker may not have reached the lock yet (it
    /// then finds the batch gone). Every path that reads or changes the open batch under the lock calls this first.
    /// </summary>
    private void SettleOpenLocked(ref Effects effects)
    {
        var added = _open.SettleAppends();
        if (added == 0)
        {
            return;
        }

        _pending += added;
        _ledger.Submitted += added;
        _ledger.Queued += added;
        if (_open.Count >= _batchSize)
        {
            effects.StartSettled = SealLocked(BatchFlushReason.Size, ref effects);
        }
    }

    /// <summary>Arms the open batch for appends when nothing an append skips could matter (see the file's comment).</summary>
    private void ArmOpenLocked()
    {
        // Not in the Coyote build: Coyote controls the interleavings of locks and tasks, not of a settling thread spinning
        // on a flag another thread writes, so it explores the locked path only.
#if !PARALLELEXEC_MONITOR_LOCK
        var open = _open;
        var room = _batchSize - open.Count;
        if (room > 0
            && !open.IsArmed
            && open.SlotByItem is null
            && _lifecycle.IsOpen
            && _pending + room <= _queueCapacity
            && !Telemetry.ActivitySource.HasListeners())
        {
            open.ArmAppends(_batchSize);
        }
#endif
    }
}
