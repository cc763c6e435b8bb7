using Microsoft.Extensions.ObjectPool;

namespace ParallelExec.Workers;

/// <summary>
/// A fire-and-forget work item. The pool reports its failure (<see cref="WorkerPoolOptions.OnError"/>) or cancellation
/// (<see cref="WorkerPoolOptions.OnDropped"/>) before completing it; the node returns to a shared pool when it ends, so
/// steady-state posting allocates nothing.
/// </summary>
internal sealed class PostedWorkItem : WorkItem
{
    private static readonly ObjectPool<PostedWorkItem> s_pool =
        new DefaultObjectPool<PostedWorkItem>(new DefaultPooledObjectPolicy<PostedWorkItem>(), 4096);

    private Func<CancellationToken, ValueTask>? _work;

    /// <summary>The submitter waiting for room in a full queue (<see cref="QueueFullMode.Wait"/>), if any.</summary>
    internal PostWaiter? Waiter;

    internal override Delegate Work => _work!;

    internal override bool IsAwaited => false;

    internal static PostedWorkItem Rent(WorkerPool pool, object? key, Func<CancellationToken, ValueTask> work)
    {
        var item = s_pool.Get();
        item.Initialize(pool, key, work);
        return item;
    }

    /// <summary>Creates a node for a pool's own free list (see <see cref="WorkerPool"/>'s posted fast path).</summary>
    internal static PostedWorkItem Create(WorkerPool pool, object? key, Func<CancellationToken, ValueTask> work)
    {
        var item = new PostedWorkItem();
        item.Initialize(pool, key, work);
        return item;
    }

    internal void Initialize(WorkerPool pool, object? key, Func<CancellationToken, ValueTask> work)
    {
        Pool = pool;
        Key = key;
        _work = work;
    }

    /// <summary>Re-arms a node from the pool's own free list; its <see cref="WorkItem.Pool"/> is still that pool.</summary>
    internal void Reinitialize(object? key, Func<CancellationToken, ValueTask> work)
    {
        // Key was cleared on the way into the free list: skipping a null store saves a write barrier per item.
        if (key is not null)
        {
            Key = key;
        }

        _work = work;
    }

    /// <summary>
    /// Clears the node for <paramref name="pool"/>'s free list (no user code; called under the pool lock). A node that
    /// never had a cancellable token needs only its references to user objects dropped; the rest is already clear.
    /// </summary>
    internal void ResetForReuse(WorkerPool pool)
    {
        if (HasCallerToken || RunCts is not null || Waiter is not null || Traced)
        {
            ResetBase();
            Waiter = null;
            Pool = pool;
        }
        else
        {
            State = WorkItemState.New;
            Key = null;
            StartTimestamp = 0;
            Outcome = default;
        }

        _work = null;
    }

    protected override ValueTask InvokeAsync(CancellationToken token) => _work!(token);

    // The pool has reported a failure or cancellation already (WorkerPool.ReportRun): nobody else waits for the item.
    internal override void Complete() => Recycle();

    internal override void CompleteWithoutRunning(Exception exception)
    {
        // A submitter still waiting for room learns the outcome from its PostAsync call; an accepted item has no caller
        // left to tell (drops went to OnDropped, cancellations to the statistics).
        var waiter = Waiter;
        Waiter = null;
        waiter?.SetException(exception);
        Recycle();
    }

    internal void Recycle()
    {
        ResetBase();
        _work = null;
        Waiter = null;
        s_pool.Return(this);
    }
}
