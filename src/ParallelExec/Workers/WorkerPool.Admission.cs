using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// Admission: where a new item goes. To an idle worker when one is free, inline for a nested submission that could
/// otherwise deadlock, into the queue when there is room, else as <see cref="AdmissionPolicy.Decide"/> says for the
/// full mode (evict, refuse, or wait in <see cref="_waiters"/> until the queue drains). Cancelling a queued or waiting
/// item removes it here too.
/// </summary>
public sealed partial class WorkerPool
{
    private enum AdmissionResult
    {
        Started,
        Queued,
        QueuedAfterDrop,
        Waiting,
        Rejected,
        Full,
        Cancelled,
        RanInline,
    }

    private ValueTask<T> SubmitAwaited<T>(object? key, Func<CancellationToken, ValueTask<T>>? work, Func<CancellationToken, ValueTask>? voidWork, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        var item = AwaitedWorkItem<T>.Rent(this, key, work, voidWork);
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask<T>(item, version);
    }

    private ValueTask SubmitAwaitedVoid(object? key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var item = AwaitedWorkItem<VoidResult>.Rent(this, key, null, work);
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask(item, version);
    }

    private PostResult TryPostCore(object? key, Func<CancellationToken, ValueTask> work)
    {
        ThrowIfNotOpen();
        if (key is null && TryAdmitPlain(work))
        {
            return PostResult.Accepted;
        }

        WorkItem? item = null;
        return Admit(ref item, canWait: false, default, out _, key, work) switch
        {
            AdmissionResult.Full => RecycleAndReturn((PostedWorkItem)item!, PostResult.QueueFull),
            AdmissionResult.Rejected => PostResult.Rejected,
            AdmissionResult.QueuedAfterDrop => PostResult.AcceptedAfterDrop,
            _ => PostResult.Accepted,
        };
    }

    private ValueTask<PostResult> PostAsyncCore(object? key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken)
    {
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PostResult>(cancellationToken);
        }

        if (key is null && !cancellationToken.CanBeCanceled && TryAdmitPlain(work))
        {
            return new ValueTask<PostResult>(PostResult.Accepted);
        }

        WorkItem? item = cancellationToken.CanBeCanceled ? PostedWorkItem.Rent(this, key, work) : null;
        return Admit(ref item, canWait: true, cancellationToken, out var waiter, key, work) switch
        {
            AdmissionResult.Waiting => waiter!.Task,
            AdmissionResult.Rejected => new ValueTask<PostResult>(PostResult.Rejected),
            AdmissionResult.QueuedAfterDrop => new ValueTask<PostResult>(PostResult.AcceptedAfterDrop),
            AdmissionResult.Cancelled => ValueTask.FromCanceled<PostResult>(cancellationToken),
            AdmissionResult.RanInline => AwaitInline(item!),
            _ => new ValueTask<PostResult>(PostResult.Accepted),
        };
    }

    /// <summary>
    /// Admits a plain post (no key, no cancellable token) without a node: to an idle worker's own node, or into the queue
    /// as the bare delegate. Returns <see langword="false"/>, having changed nothing, when the queue is full or intake has
    /// stopped (the node path then applies the full mode, or throws), and when anyone listens to the pool's telemetry:
    /// the node carries the wait timestamp and the trace context, and the node path counts the submission.
    /// </summary>
    private bool TryAdmitPlain(Func<CancellationToken, ValueTask> work)
    {
        if (_submittedCounter.Enabled || _waitDuration.Enabled || Telemetry.ActivitySource.HasListeners())
        {
            return false;
        }

        Worker? parked;
        WorkItem item;
        lock (_lock)
        {
            if (!_lifecycle.IsOpen)
            {
                return false;
            }

            if (!HasIdleWorkerLocked)
            {
                if (_queued + _claimed >= _capacity)
                {
                    return false;
                }

                _ledger.Submitted++;
                AppendLocked(work);
                return true;
            }

            // Idle workers exist only when nothing queued is runnable, so this item overtakes nothing.
            _ledger.Submitted++;
            parked = StartOnIdleWorkerLocked(work, out item);
        }

        // Outside the lock: waking the worker queues it to the thread pool (and may wake a thread, a system call), which
        // the workers finishing items must not wait behind. Off the idle stack, the worker is this call's to signal.
        parked?.Signal(item);
        return true;
    }

    private static PostResult RecycleAndReturn(PostedWorkItem item, PostResult result)
    {
        item.Recycle();
        return result;
    }

    /// <summary>
    /// Hands a new item to the pool: to an idle worker, inline for a nested submission that could otherwise deadlock, to
    /// the queue, or as the full mode decides (evict, refuse, wait). Every ending that needs no worker (rejected,
    /// cancelled before admission, evicted victim) is completed here, outside the lock.
    /// </summary>
    /// <param name="item">The item, or <see langword="null"/> to rent a posted item for <paramref name="postKey"/> and
    /// <paramref name="postWork"/> under the lock (only when <paramref name="cancellationToken"/> cannot be cancelled).</param>
    /// <param name="canWait">Whether the submission may wait for room (false for <c>TryPost</c>).</param>
    /// <param name="cancellationToken">The submitter's token.</param>
    /// <param name="waiter">The pending result of a posted item that waits for room.</param>
    /// <param name="postKey">The key of a posted item rented under the lock.</param>
    /// <param name="postWork">The work of a posted item rented under the lock.</param>
    /// <returns>What happened to the item.</returns>
    private AdmissionResult Admit(
        ref WorkItem? item, bool canWait, CancellationToken cancellationToken, out PostWaiter? waiter,
        object? postKey = null, Func<CancellationToken, ValueTask>? postWork = null)
    {
        waiter = null;

        // Only an awaited item can run inline when no worker is idle: read the ambient pool for it outside the lock; a
        // posted item needs the answer only when the queue is full (read there).
        var nestedAwaited = item is { IsAwaited: true } && IsNestedSubmission();
        var traced = Telemetry.ActivitySource.HasListeners();
        item?.RegisterCancellation(cancellationToken);

        // Worked on through a local: every access through the ref parameter would be a memory access (and a store, a
        // checked write barrier).
        var current = item;

        AdmissionResult admission;
        Worker? started = null; // a parked worker given the item, to signal once the lock is released
        object? victim = null;
        DropReason victimReason = default;
        lock (_lock)
        {
            current ??= RentPostedLocked(postKey, postWork!);
            item = current;
            if (!_lifecycle.IsOpen)
            {
                current.State = WorkItemState.Done;
                goto Closed;
            }

            if (traced)
            {
                // Reads the flow's current activity: no user code.
                current.CaptureTraceContext();
            }

            if (current.CancelRequested)
            {
                current.State = WorkItemState.Done;
                admission = AdmissionResult.Cancelled;
            }
            else if (HasIdleWorkerLocked && IsRunnableLocked(current))
            {
                // Idle workers exist only when no queued item is runnable, so starting this one does not overtake any.
                _ledger.Submitted++;
                started = StartOnIdleWorkerLocked(current, out _);
                admission = AdmissionResult.Started;
            }
            else if (nestedAwaited)
            {
                _ledger.Submitted++;
                StartInlineLocked(current);
                admission = AdmissionResult.RanInline;
            }
            else
            {
                // Waiting submitters are not passed: a new item may take room that opened before the waiters' burst is
                // admitted (AdmitWaitersLocked), as it always could.
                var decision = AdmissionPolicy.Decide(_queued + _claimed, _capacity, _fullMode);
                switch (decision)
                {
                    case Admission.Accept:
                        _ledger.Submitted++;
                        EnqueueLocked(current);
                        admission = AdmissionResult.Queued;
                        break;
                    case Admission.Reject:
                        _ledger.Refuse();
                        current.State = WorkItemState.Done;
                        admission = AdmissionResult.Rejected;
                        break;
                    case Admission.EvictOldest:
                    case Admission.EvictNewest:
                        _ledger.Submitted++;

                        // Full means at least one item is in the queue itself: a worker claims only after taking one
                        // item, which leaves queued + claimed below the capacity, so claims alone never fill it.
                        Debug.Assert(_queued > 0, "A full queue holds at least one unclaimed item.");
                        victim = EvictLocked(decision);
                        victimReason = AdmissionPolicy.ToDropReason(decision);
                        if (victim is WorkItem victimItem)
                        {
                            victimItem.State = WorkItemState.Done;
                        }

                        _ledger.CountDrop(victimReason);
                        EnqueueLocked(current);
                        admission = AdmissionResult.QueuedAfterDrop;
                        break;
                    default:
                        if (!canWait)
                        {
                            current.State = WorkItemState.Done;
                            admission = AdmissionResult.Full;
                        }
                        else if (!current.IsAwaited && IsNestedSubmission())
                        {
                            _ledger.Submitted++;
                            StartInlineLocked(current);
                            admission = AdmissionResult.RanInline;
                        }
                        else
                        {
                            _ledger.Submitted++;
                            if (current is PostedWorkItem posted)
                            {
                                waiter = posted.Waiter = PostWaiter.Rent();
                            }

                            current.State = WorkItemState.Waiting;
                            _waiters.AddLast(current);
                            admission = AdmissionResult.Waiting;
                        }

                        break;
                }
            }

            if (current.Lane != 0)
            {
                CountLaneAdmissionLocked(current, admission);
            }

            AssertInvariants();
        }

        // Outside the lock, as in TryAdmitPlain: the wake must not lengthen the lock's hold.
        started?.Signal(current);
        switch (admission)
        {
            case AdmissionResult.Full:
                return admission;
            case AdmissionResult.Rejected:
                CountSubmitted();
                Drop(current, DropReason.Rejected);
                break;
            case AdmissionResult.Cancelled:
                current.ReleaseRegistration();
                if (current.IsAwaited)
                {
                    current.CompleteWithoutRunning(new OperationCanceledException(cancellationToken));
                }
                else
                {
                    ((PostedWorkItem)current).Recycle();
                }

                return admission;
            case AdmissionResult.RanInline when current.IsAwaited:
                CountSubmitted();
                _ = RunInlineAsync(current);
                break;
            default:
                CountSubmitted();
                break;
        }

        if (victim is not null)
        {
            Drop(victim, victimReason);
        }

        return admission;

    Closed:
        current.ReleaseRegistration();
        if (current is PostedWorkItem p)
        {
            p.Recycle();
        }

        throw _lifecycle.CreateClosedException(Name);
    }

    /// <summary>The caller's token fired; see the state machine in <see cref="WorkItem"/>.</summary>
    internal void OnItemCancelled(WorkItem item)
    {
        CancellationTokenSource? runCts = null;
        var removed = false;
        var wasQueued = false;
        lock (_lock)
        {
            switch (item.State)
            {
                case WorkItemState.New:
                    item.CancelRequested = true;
                    break;
                case WorkItemState.Waiting:
                    _waiters.Remove(item);
                    if (item.Lane != 0)
                    {
                        _laneCounters![item.Lane].Dropped++;
                    }

                    item.State = WorkItemState.Done;
                    _ledger.CountDrop(DropReason.Cancelled);
                    removed = true;
                    CheckDrainedLocked();
                    break;
                case WorkItemState.Queued:
                    RemoveQueuedLocked(item);
                    item.State = WorkItemState.Done;
                    _ledger.CountDrop(DropReason.Cancelled);
                    removed = wasQueued = true;
                    AdmitWaitersLocked();
                    CheckDrainedLocked();
                    break;
                case WorkItemState.Running:
                    item.CancelRequested = true;
                    runCts = item.RunCts;
                    break;
            }
        }

        if (removed)
        {
            // The registration running this callback is the item's own: nothing to dispose, and a recycled node cannot
            // be reached by it again.
            item.CallerRegistration = default;

            // An accepted fire-and-forget item has no caller left to tell; a waiting one's PostAsync call tells its caller.
            if (wasQueued && !item.IsAwaited)
            {
                _reporter.Dropped(DropReason.Cancelled, item.Work, item.Key);
            }

            item.CompleteWithoutRunning(new OperationCanceledException(item.CallerToken));
        }

        // Outside the lock: cancelling runs the callbacks the user's work registered on its token.
        runCts?.Cancel();
    }

    /// <summary>
    /// Moves submissions waiting for room into the queue, in arrival order: nothing until the queue has drained to
    /// <see cref="_admitAtOrBelow"/>, then as many as fit.
    /// </summary>
    private void AdmitWaitersLocked()
    {
        if (_waiters.First is null || _queued + _claimed > _admitAtOrBelow)
        {
            return;
        }

        var admittedAny = false;
        while (_queued + _claimed < _capacity && _waiters.RemoveFirst() is { } item)
        {
            EnqueueLocked(item);
            admittedAny = true;
            if (item is PostedWorkItem { Waiter: { } waiter } posted)
            {
                posted.Waiter = null;

                // Completing the waiter only queues its continuation (RunContinuationsAsynchronously): no user code here.
                waiter.SetResult(PostResult.Accepted);
            }
        }

        if (admittedAny && HasIdleWorkerLocked)
        {
            DispatchLocked();
        }
    }

    private async ValueTask<PostResult> AwaitInline(WorkItem item)
    {
        await RunInlineAsync(item).ConfigureAwait(false);
        return PostResult.RanInline;
    }

    /// <summary>Runs a nested submission on the calling flow (caller-runs), with the same accounting as a worker.</summary>
    private async Task RunInlineAsync(WorkItem item)
    {
        var token = item.CallerToken;
        var started = BeginRun(item);
        await item.ExecuteAsync(token, _pipeline).ConfigureAwait(false);
        item.ReleaseRegistration();
        var ended = EndedRun.Of(item);
        lock (_lock)
        {
            CountEndLocked(item, ref ended);
            CheckDrainedLocked();
        }

        ReportRun(ended, started);
        item.Complete();
    }

    /// <summary>Reports a dropped queue entry (a node, or a plain posted delegate) and tells its submitter, if any.</summary>
    private void Drop(object entry, DropReason reason)
    {
        var item = entry as WorkItem;
        item?.ReleaseRegistration();
        _reporter.Dropped(reason, item is null ? entry : item.Work, item?.Key);
        item?.CompleteWithoutRunning(new ItemDroppedException(reason));
    }

    /// <summary>
    /// Whether the caller is a work item of this pool. Read only where the answer changes the admission (an awaited item
    /// finding no idle worker, a full queue in <see cref="QueueFullMode.Wait"/> mode), not on every submission; reading an
    /// <see cref="AsyncLocal{T}"/> runs no user code, so it may happen under the lock.
    /// </summary>
    private bool IsNestedSubmission() => AmbientComponent<WorkerPool>.IsInside(this);

    private void ThrowIfNotOpen()
    {
        // The check inlines into every submission; the throw stays out of line.
        if (!_lifecycle.IsOpen)
        {
            _lifecycle.ThrowIfNotOpen(Name);
        }
    }
}
