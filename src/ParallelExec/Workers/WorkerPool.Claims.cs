using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// Claims: a worker that finds a deep queue takes a share of it in one lock acquisition and runs those items one after
/// another without the lock, instead of taking the lock once per item. Under load the lock is the pool's bottleneck
/// (producers and workers all take it), so this takes the workers' share of the lock traffic almost away.
/// </summary>
/// <remarks>
/// <para>Only entries that need nothing of the lock while they wait are claimed: no key (per-key order is decided under
/// the lock) and no cancellable token (a cancelled item must leave the queue at once). A claim is a fair share: at most
/// <see cref="MaxClaim"/> entries and at most the queue length divided by the workers.</para>
/// <para>A claim never hides work from the pool: claimed items count as queued in the statistics and against the
/// capacity, and the worker gives back the items it has not started (to the head of the queue, in order) as soon as
/// one of its items waits for something, another worker is idle, or intake stops. So claimed items never
/// wait behind slow work while a worker could run them, and disposal, its drain timeout and self-disposal see the same
/// queue as without claims.</para>
/// </remarks>
public sealed partial class WorkerPool
{
    // Sixteen items per lock acquisition at most (the one taken plus the claim): enough to make the lock's cost per item
    // small, few enough that a worker never holds much of a shared queue.
    internal const int MaxClaim = 15;

    // Entries claimed by workers and not yet accounted for (folded back) under the lock; they count against the capacity.
    private int _claimed;

    /// <summary>
    /// Called under the lock after <paramref name="worker"/> took the head of the queue: claims a fair share of the
    /// entries behind it, when every queued entry can run without the lock.
    /// </summary>
    private void ClaimLocked(Worker worker)
    {
        if (_unclaimableQueued != 0)
        {
            return;
        }

        var count = TakeClaimableLocked(worker.Claims ??= new object?[MaxClaim], Math.Min(MaxClaim, _queued / _liveWorkers));
        if (count > 0)
        {
            worker.ClaimNext = 0;
            worker.ClaimEnd = count;
            worker.ClaimedWaiting = count;
            worker.ClaimedTotal = count;
            _claimed += count;
        }
    }

    /// <summary>
    /// Without the lock: ends <paramref name="finished"/> (its outcome goes to the worker's claim counters, then its
    /// submitter is told) and starts the next claimed entry.
    /// </summary>
    private WorkItem FinishClaimedAndStartNext(Worker worker, WorkItem finished, long started)
    {
        var outcome = finished.Outcome;
        finished.State = WorkItemState.Done;

        // A plain delegate's run is released (what it reports read first) before its node runs the next delegate.
        var ended = EndedRun.Of(finished);
        var plain = finished as PlainWorkItem;
        plain?.Release();

        // The counters change before the submitter is told, so a caller that awaited the result sees it counted.
        var next = worker.StartNextClaimed(outcome);
        if (started != 0 || ended.IsSet)
        {
            ReportRun(ended, started);
        }

        if (plain is not null)
        {
            // Nothing to tell: a plain delegate has no submitter waiting, and its report was made above.
        }
        else if (finished is PostedWorkItem posted && !ended.IsSet && worker.FreedPostedCount < FreePostedLimit)
        {
            posted.ResetForReuse(this);
            posted.Next = worker.FreedPosted;
            worker.FreedPosted = posted;
            worker.FreedPostedCount++;
        }
        else
        {
            finished.Complete();
        }

        return next;
    }

    /// <summary>
    /// Gives the claimed entries that have not started back to the head of the queue, in order (or drops them, when the
    /// drain timeout has passed), and accounts for the claimed items that ended.
    /// </summary>
    private void ReturnClaims(Worker worker)
    {
        List<object>? dropped = null;
        lock (_lock)
        {
            var start = worker.ClaimNext;
            var end = worker.ClaimEnd;
            worker.ClaimNext = worker.ClaimEnd = 0;
            worker.ClaimedWaiting = 0;
            FoldClaimsLocked(worker);
            if (end > start)
            {
                if (_drainTimedOut)
                {
                    dropped = new List<object>(end - start);
                    for (var i = start; i < end; i++)
                    {
                        dropped.Add(worker.Claims![i]!);
                        worker.Claims[i] = null;
                    }

                    _ledger.Dropped += end - start;
                }
                else
                {
                    RequeueAtHeadLocked(worker.Claims!, start, end);
                }
            }

            // The ended claimed items free room for waiting submissions; the returned ones may go to idle workers.
            AdmitWaitersLocked();
            DispatchLocked();
            CheckDrainedLocked();
        }

        foreach (var entry in dropped ?? [])
        {
            Drop(entry, DropReason.DrainTimeout);
        }
    }

    /// <summary>Adds the worker's claim counters to the pool's and takes its freed posted nodes into the free list.</summary>
    private void FoldClaimsLocked(Worker worker)
    {
        _ledger.Succeeded += worker.ClaimedSucceeded;
        _ledger.Failed += worker.ClaimedFailed;
        _ledger.Cancelled += worker.ClaimedCancelled;
        worker.ClaimedSucceeded = worker.ClaimedFailed = worker.ClaimedCancelled = 0;
        _claimed -= worker.ClaimedTotal;
        worker.ClaimedTotal = 0;

        while (worker.FreedPosted is { } node && _freePostedCount < FreePostedLimit)
        {
            worker.FreedPosted = (PostedWorkItem?)node.Next;
            node.Next = _freePosted;
            _freePosted = node;
            _freePostedCount++;
        }

        // Beyond the free list's limit the nodes are left to the garbage collector.
        worker.FreedPosted = null;
        worker.FreedPostedCount = 0;
    }

    /// <summary>Adds what workers hold in claims to a statistics snapshot (under the lock).</summary>
    private void AddClaimsLocked(ref long queued, ref long succeeded, ref long failed, ref long cancelled)
    {
        foreach (var worker in _workers)
        {
            if (worker.ClaimedTotal != 0)
            {
                var (waiting, workerSucceeded, workerFailed, workerCancelled) = worker.ReadClaimCounters();
                queued += waiting;
                succeeded += workerSucceeded;
                failed += workerFailed;
                cancelled += workerCancelled;
            }
        }
    }
}
