namespace ParallelExec.Batching;

// A caller's token fired: the awaited submission leaves its batch if the batch has not started (its slot goes with it
// when nobody else shares it), and its task ends cancelled. Once the batch has started the handler's token governs.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private void OnCancelled(object? state, CancellationToken token)
    {
        var caller = (BatchItemSource<TItem, TResult>)state!;
        var effects = default(Effects);
        bool removed;
        lock (_gate)
        {
            if (caller.Removed)
            {
                return;
            }

            var batch = caller.Batch;
            if (batch is null)
            {
                // Not enqueued yet: the submitting call sees the flag under the lock and refuses the item.
                caller.CancelRequested = true;
                return;
            }

            // A cancellable submission is never appended without the lock, but its batch may have been armed since:
            // settled, it can lose a slot (or, filled by appends, it is sealed and may start here).
            if (ReferenceEquals(batch, _open))
            {
                SettleOpenLocked(ref effects);
            }

            removed = !batch.Started && TryRemoveLocked(batch, caller, ref effects);
            ArmOpenLocked();
            AssertInvariants();
        }

        Apply(in effects);
        if (removed)
        {
            // An awaited item that is cancelled ends at its caller with OperationCanceledException (not OnDropped).
            caller.SetException(new OperationCanceledException(token));
        }
    }

    /// <summary>Takes a caller out of its batch (which has not started); its slot goes too when nobody else shares it.</summary>
    private bool TryRemoveLocked(PendingBatch<TItem, TResult> batch, BatchItemSource<TItem, TResult> caller, ref Effects effects)
    {
        var index = batch.IndexOfCaller(caller);
        if (index < 0)
        {
            return false;
        }

        if (ReferenceEquals(batch.Callers[index], caller))
        {
            batch.Callers[index] = caller.Next;
        }
        else
        {
            var previous = batch.Callers[index]!;
            while (!ReferenceEquals(previous.Next, caller))
            {
                previous = previous.Next!;
            }

            previous.Next = caller.Next;
        }

        caller.Next = null;
        caller.Removed = true;
        batch.Submissions--;
        _ledger.EndQueued(DropReason.Cancelled);
        if (batch.Callers[index] is null && batch.Posts[index] == 0)
        {
            batch.RemoveAt(index);
            _pending--;
            TakeRoomSignalLocked(ref effects);
        }

        return true;
    }
}
