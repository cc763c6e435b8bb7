using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

// Admission, under the lock: coalescing into the open batch, the full-mode decision (AdmissionPolicy), eviction, sealing
// the open batch and starting batches on free handler slots. What the decision leaves to do (report a victim, wake
// waiters, arm the timer, dispatch a batch) is collected in Effects and run by Apply after the lock is released.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private enum EnqueueResult
    {
        Accepted,
        AcceptedAfterDrop,
        Full,
        Rejected,
        Cancelled,
        Closed,
    }

    /// <summary>The admission decision, under the lock; side effects that may run foreign code are left in <paramref name="effects"/>.</summary>
    private EnqueueResult Enqueue(TItem item, BatchItemSource<TItem, TResult>? caller, ref Effects effects)
    {
        lock (_gate)
        {
            SettleOpenLocked(ref effects);
            var result = EnqueueLocked(item, caller, ref effects);
            ArmOpenLocked();
            return result;
        }
    }

    /// <summary>The decision itself, on a settled open batch.</summary>
    private EnqueueResult EnqueueLocked(TItem item, BatchItemSource<TItem, TResult>? caller, ref Effects effects)
    {
        if (!_lifecycle.IsOpen)
        {
            return EnqueueResult.Closed;
        }

        if (caller is { CancelRequested: true })
        {
            return EnqueueResult.Cancelled;
        }

        effects.Submitted = true;
        var open = _open;
        if (open.SlotByItem is { } slots && slots.TryGetValue(item, out var slot))
        {
            if (caller is null)
            {
                open.Posts[slot]++;
            }
            else
            {
                caller.Batch = open;
                caller.Next = open.Callers[slot];
                open.Callers[slot] = caller;
            }

            CaptureLinkLocked(open, slot);
            open.Submissions++;
            _ledger.Accept(queued: true);
            _coalesced++;
            AssertInvariants();
            return EnqueueResult.Accepted;
        }

        // The decision is AdmissionPolicy's; the common case (room) is settled here without calling it.
        var admission = _pending < _queueCapacity ? Admission.Accept : AdmissionPolicy.Decide(_pending, _queueCapacity, _options.FullMode);
        switch (admission)
        {
            case Admission.Wait:
                effects.Submitted = false;
                effects.Room = (_roomAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                return EnqueueResult.Full;
            case Admission.Reject:
                // Handed to the processor and ended as rejected: it is in the ledger.
                _ledger.Refuse();
                AssertInvariants();
                return EnqueueResult.Rejected;
            case Admission.EvictOldest or Admission.EvictNewest:
                EvictLocked(admission, ref effects);
                open = _open;
                break;
        }

        if (caller is not null)
        {
            caller.Batch = open;
        }

        open.Add(item, caller);
        if (Telemetry.ActivitySource.HasListeners())
        {
            CaptureLinkLocked(open, open.Count - 1);
        }

        _pending++;
        _ledger.Accept(queued: true);
        if (open.Count == 1)
        {
            open.OpenedAt = _time.GetTimestamp();
            effects.ArmTimer = _timer is not null;
        }

        if (open.Count >= _batchSize)
        {
            effects.Start = SealLocked(BatchFlushReason.Size, ref effects);
        }

        AssertInvariants();
        return effects.Victim is null ? EnqueueResult.Accepted : EnqueueResult.AcceptedAfterDrop;
    }

    /// <summary>
    /// Remembers the submitter's trace context (Enqueue runs on the submitter's flow) for the links of the flush span;
    /// nothing is read or stored when nobody listens.
    /// </summary>
    private static void CaptureLinkLocked(PendingBatch<TItem, TResult> batch, int slot)
    {
        if (Telemetry.ActivitySource.HasListeners() && Activity.Current is { } submitter)
        {
            batch.AddLink(slot, submitter.Context);
        }
    }

    /// <summary>Takes the oldest or newest waiting slot out of its batch to make room (DropOldest / DropNewest).</summary>
    private void EvictLocked(Admission admission, ref Effects effects)
    {
        var oldest = admission == Admission.EvictOldest;
        PendingBatch<TItem, TResult>? batch = null;
        if (oldest)
        {
            for (var i = 0; i < _ready.Count && batch is null; i++)
            {
                if (_ready[i].Count > 0)
                {
                    batch = _ready[i];
                }
            }

            batch ??= _open;
        }
        else if (_open.Count > 0)
        {
            batch = _open;
        }
        else
        {
            for (var i = _ready.Count - 1; i >= 0 && batch is null; i--)
            {
                if (_ready[i].Count > 0)
                {
                    batch = _ready[i];
                }
            }
        }

        if (batch is null || batch.Count == 0)
        {
            return;
        }

        var index = oldest ? 0 : batch.Count - 1;
        var reason = AdmissionPolicy.ToDropReason(admission);
        var submissions = batch.SubmissionsAt(index);
        for (var caller = batch.Callers[index]; caller is not null; caller = caller.Next)
        {
            caller.Removed = true;
        }

        effects.Victim = new Victim(batch.Items[index], batch.Callers[index], batch.Posts[index], reason);
        batch.RemoveAt(index);
        _pending--;
        for (var i = 0; i < submissions; i++)
        {
            _ledger.EndQueued(reason);
        }
    }

    /// <summary>Closes the open batch; starts it when a handler slot is free (the caller dispatches it), else queues it.</summary>
    private PendingBatch<TItem, TResult>? SealLocked(BatchFlushReason reason, ref Effects effects)
    {
        var batch = _open;
        Debug.Assert(!batch.IsArmed, "A batch is settled before it is sealed.");
        _open = _spareBatches.Count > 0 ? _spareBatches.Pop() : NewBatch();
        batch.Reason = reason;
        batch.Sequence = ++_sequence;
        switch (reason)
        {
            case BatchFlushReason.Size:
                _bySize++;
                break;
            case BatchFlushReason.Time:
                _byTime++;
                break;
            case BatchFlushReason.Forced:
                _byRequest++;
                break;
            default:
                _onDispose++;
                break;
        }

        if (_running.Count < _options.MaxDegreeOfParallelism)
        {
            StartLocked(batch, ref effects);
            return batch;
        }

        _ready.Enqueue(batch);
        return null;
    }

    /// <summary>Moves a batch from waiting to running: its slots leave the queue, its submissions go into flight.</summary>
    private void StartLocked(PendingBatch<TItem, TResult> batch, ref Effects effects)
    {
        batch.Started = true;
        _pending -= batch.Count;
        _running.Add(batch);

        // ItemLedger.Start for every submission of the batch, at once.
        _ledger.Queued -= batch.Submissions;
        _ledger.InFlight += batch.Submissions;
        TakeRoomSignalLocked(ref effects);
    }

    private void TakeRoomSignalLocked(ref Effects effects)
    {
        if (_roomAvailable is not null && _pending < _options.QueueCapacity)
        {
            effects.RoomSignal = _roomAvailable;
            _roomAvailable = null;
        }
    }

    /// <summary>Runs what an admission decided, outside the lock.</summary>
    private void Apply(in Effects effects)
    {
        try
        {
            if (effects.Submitted && _submittedCounter.Enabled)
            {
                _reporter.Submitted();
            }
        }
        finally
        {
            // A throwing meter listener reaches the submitter, but cannot keep a started batch from running.
            ApplyDecisions(in effects);
        }
    }

    /// <summary>The rest of <see cref="Apply"/>: the timer, the evicted item's report, the room signal, the started batches.</summary>
    private void ApplyDecisions(in Effects effects)
    {
        if (effects.ArmTimer)
        {
            ArmTimer(_options.MaxDelay);
        }

        if (effects.Victim is { } victim)
        {
            DropSlot(victim.Item, victim.Callers, victim.Posts, victim.Reason);
        }

        effects.RoomSignal?.TrySetResult();
        if (effects.StartSettled is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(effects.StartSettled, preferLocal: false);
        }

        if (effects.Start is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(effects.Start, preferLocal: false);
        }
    }

    /// <summary>An item taken out of a batch to make room, to be reported outside the lock.</summary>
    private sealed record Victim(TItem Item, BatchItemSource<TItem, TResult>? Callers, int Posts, DropReason Reason);

    /// <summary>What a decision taken under the lock leaves to do once the lock is released.</summary>
    private struct Effects
    {
        public bool Submitted;
        public PendingBatch<TItem, TResult>? Start;

        /// <summary>A batch that settling the open batch found full and sealed (SettleOpenLocked), before any Start.</summary>
        public PendingBatch<TItem, TResult>? StartSettled;
        public bool ArmTimer;
        public Task? Room;
        public TaskCompletionSource? RoomSignal;
        public Victim? Victim;
    }
}
