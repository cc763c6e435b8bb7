namespace ParallelExec;

/// <summary>
/// What a bounded queue does when an item arrives and the queue is at capacity.
/// </summary>
/// <remarks>
/// Shared by every queue in the library (worker pool, batch intake, bus mailboxes, agent wait queue), so it lives in the
/// root namespace rather than in one component's. Whatever the mode, no item is lost silently: a dropped or rejected
/// item is reported to the caller that submitted it, to the component's <c>OnDropped</c> callback and to its metrics.
/// </remarks>
public enum QueueFullMode
{
    /// <summary>The submitting call waits asynchronously until there is room (or until its token is cancelled).</summary>
    Wait = 0,

    /// <summary>The oldest queued item is dropped to make room for the new one.</summary>
    DropOldest = 1,

    /// <summary>The newest queued item (the one submitted most recently before this one) is dropped to make room for the new one.</summary>
    DropNewest = 2,

    /// <summary>The new item is refused; the submitting call reports the rejection at once.</summary>
    Reject = 3,
}
