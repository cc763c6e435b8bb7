namespace ParallelExec;

/// <summary>
/// What happened to a fire-and-forget item handed to a component's <c>TryPost</c> or <c>PostAsync</c>: the one post
/// result of every component.
/// </summary>
/// <remarks>
/// Whatever the result, no item is lost silently: an item evicted to make room is reported to the component's
/// <c>OnDropped</c> callback (a <see cref="DroppedItem"/>), and a refused one is counted as
/// <see cref="LedgerSnapshot.Rejected"/> (and reported to <c>OnDropped</c> with <see cref="DropReason.Rejected"/>).
/// </remarks>
public enum PostResult
{
    /// <summary>The item was queued (or handed to an idle worker) and will run.</summary>
    Accepted = 0,

    /// <summary>
    /// The item was queued, and to make room another queued item was evicted (<see cref="QueueFullMode.DropOldest"/>
    /// or <see cref="QueueFullMode.DropNewest"/>); the evicted item was reported to <c>OnDropped</c> and to its own submitter.
    /// </summary>
    AcceptedAfterDrop = 1,

    /// <summary>The queue was full in <see cref="QueueFullMode.Reject"/> mode: the item was refused and will not run.</summary>
    Rejected = 2,

    /// <summary>
    /// The queue was full in <see cref="QueueFullMode.Wait"/> mode and the call could not wait (<c>TryPost</c>): the item
    /// was not taken and is not counted.
    /// </summary>
    QueueFull = 3,

    /// <summary>
    /// The call came from an item running on the same worker pool while the queue was full in
    /// <see cref="QueueFullMode.Wait"/> mode; waiting could deadlock the pool, so the item ran inline on the calling item
    /// before the call returned (caller-runs). Only the worker pool returns it.
    /// </summary>
    RanInline = 4,
}
