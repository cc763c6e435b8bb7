using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// The end of the pool's life: <see cref="Complete"/> stops intake, <see cref="Completion"/> ends when every accepted
/// item has ended, and <see cref="DisposeAsync"/> drains within the drain timeout (<see cref="Lifecycle.DrainAsync"/>),
/// then drops what is queued and cancels what runs, and stops the workers. A <c>DisposeAsync</c> called by a work item of
/// this pool does not wait for that item.
/// </summary>
public sealed partial class WorkerPool
{
    // Set once the drain has ended and the workers are being stopped: a worker that finishes an item then retires.
    private bool _stopped;

    // Self-disposal (DisposeAsync called by a work item of this pool): the items that called it, each with the worker it
    // ran on when it called, and the task those calls return. Guarded by _lock.
    private List<(Worker Worker, WorkItem Item, long Starts)>? _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    /// <summary>
    /// Stops intake: later submissions throw <see cref="InvalidOperationException"/>, and submissions still waiting for
    /// room in a full queue complete with it. Items already accepted still run; <see cref="Completion"/> ends when they
    /// have. Idempotent.
    /// </summary>
    public void Complete()
    {
        WorkItem? refused;
        lock (_lock)
        {
            if (!_lifecycle.TryStopIntake())
            {
                return;
            }

            refused = RefuseWaitersLocked();
            CheckDrainedLocked();
        }

        CompleteRefused(refused);
    }

    /// <summary>
    /// Stops intake, lets the accepted items finish within <see cref="ComponentOptions.DrainTimeout"/> (measured with
    /// the pool's <see cref="TimeProvider"/>), then drops the items still queued (<see cref="DropReason.DrainTimeout"/>:
    /// reported to <see cref="WorkerPoolOptions.OnDropped"/>, and their awaiting callers get
    /// <see cref="ItemDroppedException"/>) and cancels the tokens of the running ones, waits for those, and stops the
    /// workers. Submissions still waiting for room complete with <see cref="ObjectDisposedException"/>. Idempotent: later
    /// calls return the same disposal.
    /// </summary>
    /// <returns>A task that completes when the pool has stopped (called from inside a work item of this pool: when
    /// everything else has drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside the pool.</b> A work item of this pool (or anything running on its async flow, such as
    /// a nested inline item) that awaits the pool's disposal would wait for itself forever. Such a call is detected
    /// (through the ambient pool that also detects nested submissions) and behaves differently in one point only: it
    /// starts the disposal as usual (intake stops, the queue drains, the drain timeout applies to everything, the calling
    /// item included), but the task it returns does not wait for the calling item. It completes once every worker is
    /// idle except the workers running items that called <c>DisposeAsync</c> from inside (so two items disposing the pool
    /// at once do not wait for each other), that is when everything that can run without the callers has ended. Items
    /// still queued then are those that can only start after a caller (same key, or every worker runs a caller): they run
    /// after it, as part of the drain. The calling item then ends as usual, and the pool finishes stopping in the
    /// background.</para>
    /// <para>Calls from outside the pool (the first or later ones) return the full disposal: it completes only when every
    /// item, the ones that called <c>DisposeAsync</c> included, has ended and the workers have stopped.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        WorkItem? refused;
        Task? othersDrained;
        var fromInside = IsNestedSubmission();
        lock (_lock)
        {
            if (_lifecycle.DisposeTask is { } disposing)
            {
                return new ValueTask(fromInside ? AddSelfDisposerLocked() : disposing);
            }

            _lifecycle.TryBeginDispose();

            // A zero drain timeout has passed the moment disposal begins: no queued item may start from here on, even
            // before the cut (which runs off this stack, see Lifecycle.DrainAsync) drops them.
            _drainTimedOut = _drainTimeout == TimeSpan.Zero;
            refused = RefuseWaitersLocked();
            CheckDrainedLocked();

            // DisposeCoreAsync runs synchronously up to its first await; it takes only this (reentrant) lock there.
            _lifecycle.DisposeTask = DisposeCoreAsync();
            othersDrained = fromInside ? AddSelfDisposerLocked() : null;
        }

        _instruments.Live.Remove(this);
        CompleteRefused(refused);
        return new ValueTask(othersDrained ?? _lifecycle.DisposeTask);
    }

    /// <summary>Takes every submitter waiting for room out of the waiting list (intake has stopped); counted as cancelled.</summary>
    private WorkItem? RefuseWaitersLocked()
    {
        var refused = _waiters.DetachAll();
        for (var item = refused; item is not null; item = item.Next)
        {
            item.State = WorkItemState.Done;
            _ledger.CountDrop(DropReason.Cancelled);
        }

        return refused;
    }

    /// <summary>Tells refused waiting submitters (outside the lock) that intake stopped before their item was queued.</summary>
    private void CompleteRefused(WorkItem? refused)
    {
        while (refused is not null)
        {
            var next = refused.Next;
            refused.Next = null;
            refused.ReleaseRegistration();
            refused.CompleteWithoutRunning(_lifecycle.CreateClosedException(Name));
            refused = next;
        }
    }

    /// <summary>
    /// Registers a DisposeAsync call made from inside the pool and returns the task it completes with: once every worker
    /// is idle or runs an item that called DisposeAsync from inside. An idle worker means no queued item is runnable (the
    /// pool hands runnable items to idle workers at once), so what is still queued then can only run after a caller has
    /// ended: its key is held by a caller, or every worker runs a caller. Waiting for it would wait for the callers.
    /// </summary>
    private Task AddSelfDisposerLocked()
    {
        // The item the calling worker runs now is the caller, or the item that awaits the inline item that is the caller.
        if (s_currentWorker.Value is { Current: { } item } worker)
        {
            (_selfDisposers ??= []).Add((worker, item, worker.Starts));
        }

        if (_othersDrained is null || _othersDrained.Task.IsCompleted)
        {
            _othersDrained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var task = _othersDrained.Task;
        CheckDrainedLocked();
        return task;
    }

    private void CheckOthersDrainedLocked()
    {
        // An entry is stale once its worker has moved on from the item (every change of Worker.Current is followed by
        // CheckDrainedLocked under the same lock, so a recycled item cannot come back unnoticed on that worker).
        _selfDisposers?.RemoveAll(static entry => !ReferenceEquals(entry.Worker.Current, entry.Item) || entry.Worker.Starts != entry.Starts);
        foreach (var worker in _workers)
        {
            if (worker.Current is { } current && !IsSelfDisposerLocked(worker, current))
            {
                return;
            }
        }

        _othersDrained!.TrySetResult();
    }

    private bool IsSelfDisposerLocked(Worker worker, WorkItem item)
    {
        foreach (var entry in _selfDisposers ?? [])
        {
            if (ReferenceEquals(entry.Worker, worker) && ReferenceEquals(entry.Item, item) && entry.Starts == worker.Starts)
            {
                return true;
            }
        }

        return false;
    }

    private async Task DisposeCoreAsync()
    {
        await Lifecycle.DrainAsync(_lifecycle.Completion, _drainTimeout, _timeProvider, CancelRemaining).ConfigureAwait(false);

        Task[] workers;
        lock (_lock)
        {
            _stopped = true;
            while (_idle.Count > 0)
            {
                RetireLocked(_idle.Pop());
            }

            workers = [.. _workerTasks];
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        _shutdownCts.Dispose();
    }

    /// <summary>The drain timeout passed (off the disposer's stack, see <see cref="Lifecycle.DrainAsync"/>): drop what is queued, cancel what runs.</summary>
    private void CancelRemaining()
    {
        List<object> dropped;
        var running = new List<CancellationTokenSource>();
        lock (_lock)
        {
            _drainTimedOut = true;
            dropped = TakeAllLocked();
            foreach (var entry in dropped)
            {
                if (entry is WorkItem item)
                {
                    item.State = WorkItemState.Done;
                }
            }

            _ledger.Dropped += dropped.Count;
            foreach (var worker in _workers)
            {
                if (worker.Current?.RunCts is { } cts)
                {
                    running.Add(cts);
                }
            }

            CheckDrainedLocked();
        }

        _shutdownCts.Cancel();
        foreach (var cts in running)
        {
            cts.Cancel();
        }

        foreach (var entry in dropped)
        {
            Drop(entry, DropReason.DrainTimeout);
        }
    }

    /// <summary>
    /// Called under the lock after every state change: completes <see cref="Completion"/> once intake has stopped and
    /// nothing accepted is left, and a self-disposal's task once only its callers run.
    /// </summary>
    private void CheckDrainedLocked()
    {
        AssertInvariants();
        if (!_lifecycle.IsOpen)
        {
            if (_queued == 0 && _claimed == 0 && _ledger.InFlight == 0 && _waiters.Count == 0)
            {
                _lifecycle.SetCompleted();
            }

            if (_othersDrained is { Task.IsCompleted: false })
            {
                CheckOthersDrainedLocked();
            }
        }
    }
}
