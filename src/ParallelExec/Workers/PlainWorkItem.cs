namespace ParallelExec.Workers;

/// <summary>
/// The node a worker runs a plain posted delegate in. A post without a key and without a cancellable token needs
/// nothing of a node while it waits (it can never be cancelled alone, and keeps no order but the queue's), so it waits
/// in the queue as the bare delegate and each worker wraps it in its own reusable node to run it: posting then writes
/// one reference under the lock and touches no object another core last wrote.
/// </summary>
internal sealed class PlainWorkItem : WorkItem
{
    private Func<CancellationToken, ValueTask>? _work;

    internal PlainWorkItem(WorkerPool pool) => Pool = pool;

    internal override Delegate Work => _work!;

    internal override bool IsAwaited => false;

    /// <summary>Loads the next delegate to run (the node is free: its previous run has been accounted for).</summary>
    internal void Arm(Func<CancellationToken, ValueTask> work)
    {
        _work = work;
        State = WorkItemState.Running;
    }

    /// <summary>
    /// Frees the node for the next delegate (the caller has read what it reports of the run that ended: the node may run
    /// the next delegate before that report is made, outside the pool lock).
    /// </summary>
    internal void Release()
    {
        _work = null;
        Error = null;
        Outcome = default;
        StartTimestamp = 0;
        State = WorkItemState.Done;
    }

    protected override ValueTask InvokeAsync(CancellationToken token) => _work!(token);

    // A plain delegate is accounted for and released by its worker (see Release); it is never completed like a node.
    internal override void Complete() => throw new InvalidOperationException("A plain posted item is released by its worker.");

    internal override void CompleteWithoutRunning(Exception exception) =>
        throw new InvalidOperationException("A plain posted item waits in the queue as its delegate, never as this node.");
}
