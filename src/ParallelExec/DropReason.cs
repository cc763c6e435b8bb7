namespace ParallelExec;

/// <summary>
/// Why an item handed to a component did not run to an outcome of its own (succeeded or failed).
/// </summary>
/// <remarks>
/// Every component reports such an item once, through its <c>OnDropped</c> callback (a <see cref="DroppedItem"/>), its
/// <c>parallelexec.&lt;component&gt;.items.dropped</c> counter (tagged with <see cref="TelemetryTagNames.DropReason"/>)
/// and, for an awaited item, the <see cref="ItemDroppedException"/> or <see cref="OperationCanceledException"/> its
/// caller receives. The statistics count <see cref="Rejected"/> items as <see cref="LedgerSnapshot.Rejected"/>,
/// <see cref="Cancelled"/> items as <see cref="LedgerSnapshot.Cancelled"/> and every other reason as
/// <see cref="LedgerSnapshot.Dropped"/>.
/// </remarks>
public enum DropReason
{
    /// <summary>The queue was full in <see cref="QueueFullMode.Reject"/> mode and refused the item.</summary>
    Rejected = 0,

    /// <summary>The item was the oldest in a full queue in <see cref="QueueFullMode.DropOldest"/> mode and was evicted.</summary>
    DroppedOldest = 1,

    /// <summary>The item was the newest in a full queue in <see cref="QueueFullMode.DropNewest"/> mode and was evicted.</summary>
    DroppedNewest = 2,

    /// <summary>The component was disposed and its drain timeout passed before the item ended; the item was cancelled.</summary>
    DrainTimeout = 3,

    /// <summary>
    /// A fire-and-forget item was cancelled (by its own token or the component's) while queued or running. Awaited
    /// items that are cancelled end with <see cref="OperationCanceledException"/> at their caller instead.
    /// </summary>
    Cancelled = 4,
}
