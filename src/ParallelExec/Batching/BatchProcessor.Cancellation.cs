namespace ParallelExec.Batching;

// A caller's token fired: the awaited submission leaves its batch if the batch has not started (its slot goes with it
// when nobody else shares it), and its task ends cancelled. Once the batch has started the handler's token governs.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private void OnCancelled(object? state, CancellationToken token)
    {
        var caller = (BatchItemSource<TItem, TResult>)state!;
        var effects = default(Effects);
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

            if (batch.Started)
            {
                return;
            }

            var index = batch.IndexOfCaller(caller);
            if (index < 0)
            {
                return;
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

            AssertInvariants();
        }

        Apply(in effects);

        // An awaited item that is cancelled ends at its caller with OperationCanceledException (not OnDropped).
        caller.SetException(new OperationCanceledException(token));
    }
}
