namespace ParallelExec;

/// <summary>
/// Why an item handed to a bounded queue did not run.
/// </summary>
public enum DropReason
{
    /// <summary>The queue was full in <see cref="QueueFullMode.Reject"/> mode and refused the item.</summary>
    Rejected = 0,

    /// <summary>The item was the oldest in a full queue in <see cref="QueueFullMode.DropOldest"/> mode and was evicted.</summary>
    DroppedOldest = 1,

    /// <summary>The item was the newest in a full queue in <see cref="QueueFullMode.DropNewest"/> mode and was evicted.</summary>
    DroppedNewest = 2,

    /// <summary>The component was disposed with a drain deadline that passed before the item ran.</summary>
    DisposeDeadline = 3,
}
