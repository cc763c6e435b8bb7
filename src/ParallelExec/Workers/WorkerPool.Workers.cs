using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// The workers: each runs a loop that takes the next runnable item (under the lock), runs it (without the lock), and
/// accounts for it before taking the next, parking on the idle stack when nothing is runnable. Adding, retiring and
/// dispatching workers live here too.
/// </summary>
public sealed partial class WorkerPool
{
    // The worker whose flow this is; set once per worker. A DisposeAsync called from inside the pool reads it to know
    // which running item called it (AmbientComponent says only that the call comes from this pool, not from which item).
    private static readonly AsyncLocal<Worker?> s_currentWorker = new();

    private const int FreePostedLimit = 1024;

    private async Task RunWorkerAsync(Worker worker)
    {
        // Marks every work item this worker runs, and everything they call, as running on this pool (nested-submission
        // and self-disposal detection). Set once per worker, not per item: changing an AsyncLocal allocates.
        AmbientComponent<WorkerPool>.Current = this;
        WorkItem? finished = null;
        long started = 0;
        var mayClaim = false;
        while (true)
        {
            var next = FinishAndTakeNext(worker, finished, started, mayClaim, out var retire, out var linger);
            if (linger)
            {
                next = Linger(worker, out retire);
            }

            if (next is null)
            {
                if (retire)
                {
                    return;
                }

                // Parked: woken with the next item, or with null to retire.
                next = await worker.WaitAsync().ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }
            }

            started = BeginRun(next);
            var execution = next.ExecuteAsync(next.RunCts?.Token ?? _shutdownToken, _pipeline);
            while (true)
            {
                mayClaim = execution.IsCompletedSuccessfully;
                if (!mayClaim)
                {
                    // Claimed items never wait behind work that waits: give them back first.
                    if (worker.HasClaims)
                    {
                        ReturnClaims(worker);
                    }

                    await execution.ConfigureAwait(false);
                }

                if (!worker.HasClaims)
                {
                    break;
                }

                // An idle worker (a racy read: at worst one more item before the next look) could run what this one holds.
                if (!_lifecycle.IsOpen || _idle.Count > 0)
                {
                    ReturnClaims(worker);
                    break;
                }

                next = FinishClaimedAndStartNext(worker, next, started);
                started = BeginRun(next);
                execution = next.ExecuteAsync(_shutdownToken, _pipeline);
            }

            finished = next;
        }
    }

    /// <summary>
    /// One step of a worker, outside its async state machine (per-item work stays in registers): accounts for the item
    /// it finished (and for the claimed items before it), then takes the next runnable item (and, when
    /// <paramref name="mayClaim"/>, claims a share of a deep queue), or parks the worker on the idle stack (returns
    /// <see langword="null"/>), or retires it (<paramref name="retire"/>).
    /// </summary>
    private WorkItem? FinishAndTakeNext(Worker worker, WorkItem? finished, long started, bool mayClaim, out bool retire, out bool linger)
    {
        WorkItem? next;
        var hadFinished = finished is not null;
        var callerWaiting = finished is { CallerWaiting: true };
        var ended = default(EndedRun);
        if (finished is not null)
        {
            // Read before the lock: a plain node is released, and a posted one recycled, under it.
            ended = EndedRun.Of(finished);
            if (finished.HasCallerToken)
            {
                finished.ReleaseRegistration();
            }
        }

        lock (_lock)
        {
            if (worker.ClaimedTotal != 0)
            {
                // The claimed items have all ended: their room in the queue goes to submissions waiting for it.
                FoldClaimsLocked(worker);
                AdmitWaitersLocked();
            }

            if (finished is not null)
            {
                if (FinishLocked(finished, worker, ref ended))
                {
                    finished = null; // recycled under the lock: nothing left to tell anyone
                }
                else if (finished is PlainWorkItem plain)
                {
                    // Released before the worker takes the next item, which may be a plain delegate for the same node.
                    plain.Release();
                    finished = null;
                }
            }

            // A worker whose finished item resumes a waiting caller does not linger: the caller's continuation is queued
            // to the thread pool, and this worker's thread, parked, is the one that can run it at once.
            next = TakeNextOrParkLocked(worker, mayClaim, mayLinger: mayClaim && !callerWaiting, out retire, out linger);
        }

        if (hadFinished && (started != 0 || ended.IsSet))
        {
            ReportRun(ended, started);
        }

        finished?.Complete();
        return next;
    }

    /// <summary>
    /// Takes the next runnable item, or lets the worker linger (<paramref name="linger"/>; only when
    /// <paramref name="mayLinger"/>), or parks it on the idle stack, or retires it (under the lock).
    /// </summary>
    private WorkItem? TakeNextOrParkLocked(Worker worker, bool mayClaim, bool mayLinger, out bool retire, out bool linger)
    {
        WorkItem? next = null;
        retire = false;
        linger = false;
        if (_stopped || _liveWorkers > _targetWorkers)
        {
            // A retiring worker must not strand a runnable item that its finished item's key just freed.
            _liveWorkers--;
            _workers.Remove(worker);
            retire = true;
            DispatchLocked();
        }
        else
        {
            next = TakeNextLocked(worker, mayClaim);
            if (next is null && mayLinger && TryLingerLocked(worker))
            {
                linger = true;
            }
            else if (next is null)
            {
                worker.PrepareToWait();
                _idle.Push(worker);
            }
        }

        CheckDrainedLocked();
        return next;
    }

    /// <summary>
    /// Takes the first runnable queued item and starts it on <paramref name="worker"/>; when <paramref name="mayClaim"/>
    /// (the worker's last item did not wait), a deep queue and the item's kind allow, also claims a share behind it.
    /// </summary>
    private WorkItem? TakeNextLocked(Worker worker, bool mayClaim)
    {
        if (TakeFirstRunnableLocked() is not { } entry)
        {
            return null;
        }

        var item = worker.Arm(entry);
        StartLocked(item, worker);

        // The item taken ends through the claim path too, which releases no key and no token registration. No claim
        // while a worker is idle (it would be given back at once) or for less than two items each.
        if (mayClaim && item.Key is null && !item.HasCallerToken && _lifecycle.IsOpen && !HasIdleWorkerLocked
            && _queued >= 2 * _liveWorkers)
        {
            ClaimLocked(worker);
        }

        AdmitWaitersLocked();
        return item;
    }

    /// <summary>Gives runnable queued items to idle workers (after a worker retired or a waiter was admitted).</summary>
    private void DispatchLocked()
    {
        while (HasIdleWorkerLocked && _queued > 0)
        {
            if (TakeFirstRunnableLocked() is not { } entry)
            {
                return;
            }

            StartOnIdleWorkerLocked(entry, out var item)?.Signal(item);
            AdmitWaitersLocked();
        }
    }

    private bool IsRunnableLocked(WorkItem item) => item.Key is null || !_busyKeys.ContainsKey(item.Key);

    /// <summary>Whether a queue entry may start now: a plain delegate always, a node when its key is free.</summary>
    private bool IsRunnableLocked(object entry) => entry is not WorkItem item || IsRunnableLocked(item);

    private void StartLocked(WorkItem item, Worker worker)
    {
        item.State = WorkItemState.Running;
        if (item.Key is not null)
        {
            _busyKeys.Add(item.Key, true);
        }

        if (item.HasCallerToken)
        {
            item.RunCts ??= new CancellationTokenSource();
        }

        _ledger.InFlight++;
        worker.Current = item;
        worker.Starts++;
    }

    private void StartInlineLocked(WorkItem item)
    {
        item.State = WorkItemState.Running;
        _ledger.InFlight++;
    }

    /// <summary>
    /// Accounts for an item a worker ran; returns true when the item was a posted one recycled here (only when it
    /// succeeded and has no span or report left to make: <paramref name="ended"/> is empty).
    /// </summary>
    private bool FinishLocked(WorkItem item, Worker worker, ref EndedRun ended)
    {
        item.State = WorkItemState.Done;
        worker.Current = null;
        if (item.Key is not null)
        {
            _busyKeys.Remove(item.Key);
        }

        if (_drainTimedOut)
        {
            // The drain timeout may have collected this source to cancel it outside the lock: never reuse it.
            item.RunCts = null;
        }

        CountEndLocked(item, ref ended);
        if (!ended.IsSet && item is PostedWorkItem posted && _freePostedCount < FreePostedLimit)
        {
            posted.ResetForReuse(this);
            posted.Next = _freePosted;
            _freePosted = posted;
            _freePostedCount++;
            return true;
        }

        return false;
    }

    private PostedWorkItem RentPostedLocked(object? key, Func<CancellationToken, ValueTask> work)
    {
        var item = _freePosted;
        if (item is null)
        {
            return PostedWorkItem.Create(this, key, work);
        }

        _freePosted = (PostedWorkItem?)item.Next;
        item.Next = null;
        _freePostedCount--;
        item.Reinitialize(key, work);
        return item;
    }

    private List<Worker> AddWorkersLocked(int count)
    {
        var started = new List<Worker>();
        _targetWorkers = Math.Max(_targetWorkers, _liveWorkers + count);
        for (var i = 0; i < count; i++)
        {
            var worker = new Worker(this);
            _workers.Add(worker);
            _liveWorkers++;
            started.Add(worker);
        }

        return started;
    }

    private void StartWorkers(List<Worker> workers)
    {
        if (workers.Count == 0)
        {
            return;
        }

        // Workers must not inherit the creator's execution context (its AsyncLocals would leak into every work item).
        using (ExecutionContext.SuppressFlow())
        {
            foreach (var worker in workers)
            {
                var task = Task.Run(() =>
                {
                    s_currentWorker.Value = worker;
                    return RunWorkerAsync(worker);
                });
                lock (_lock)
                {
                    _workerTasks.RemoveAll(static t => t.IsCompleted);
                    _workerTasks.Add(task);
                }
            }
        }
    }

    private void RetireLocked(Worker worker)
    {
        _liveWorkers--;
        _workers.Remove(worker);
        worker.Signal(null);
    }
}
