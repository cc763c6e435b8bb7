namespace ParallelExec.Workers;

/// <summary>
/// What happened to a fire-and-forget work item handed to <see cref="WorkerPool.TryPost(Func{CancellationToken, ValueTask})"/>
/// or <see cref="WorkerPool.PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>.
/// </summary>
public enum PostResult
{
    /// <summary>The item was queued (or handed to an idle worker) and will run.</summary>
    Accepted = 0,

    /// <summary>
    /// The item was queued, and to make room another queued item was evicted
    /// (<see cref="QueueFullMode.DropOldest"/> or <see cref="QueueFullMode.DropNewest"/>); the evicted item was reported
    /// to <see cref="WorkerPoolOptions.OnDropped"/> and to its own submitter.
    /// </summary>
    AcceptedAfterDrop = 1,

    /// <summary>The queue was full in <see cref="QueueFullMode.Reject"/> mode: the item was refused and will not run.</summary>
    Rejected = 2,

    /// <summary>
    /// The queue was full in <see cref="QueueFullMode.Wait"/> mode and the call could not wait
    /// (<see cref="WorkerPool.TryPost(Func{CancellationToken, ValueTask})"/>): the item was not taken and is not counted.
    /// </summary>
    QueueFull = 3,

    /// <summary>
    /// The call came from a work item running on the same pool while the queue was full in
    /// <see cref="QueueFullMode.Wait"/> mode; waiting could deadlock the pool, so the item ran inline on the calling work
    /// item before the call returned (caller-runs).
    /// </summary>
    RanInline = 4,
}
