namespace ParallelExec.Internal;

/// <summary>What a bounded queue does with an arriving item: the one full-mode decision of the library.</summary>
internal enum Admission
{
    /// <summary>There is room: queue it.</summary>
    Accept,

    /// <summary>Full, <see cref="QueueFullMode.DropOldest"/>: evict the oldest queued item, then queue this one.</summary>
    EvictOldest,

    /// <summary>Full, <see cref="QueueFullMode.DropNewest"/>: evict the newest queued item, then queue this one.</summary>
    EvictNewest,

    /// <summary>Full, <see cref="QueueFullMode.Reject"/>: refuse this item.</summary>
    Reject,

    /// <summary>Full, <see cref="QueueFullMode.Wait"/>: the submitter waits for room (or, if it cannot wait, is told the queue is full).</summary>
    Wait,
}

/// <summary>The full-mode decision, written once.</summary>
internal static class AdmissionPolicy
{
    /// <summary>Decides what happens to an item arriving at a queue holding <paramref name="count"/> items.</summary>
    /// <param name="count">Items queued now (not counting submitters already waiting for room).</param>
    /// <param name="capacity">The queue's capacity.</param>
    /// <param name="mode">The full mode.</param>
    /// <param name="waiters">Submitters already waiting for room: a new one queues behind them, never past them.</param>
    /// <returns>The decision.</returns>
    public static Admission Decide(long count, long capacity, QueueFullMode mode, long waiters = 0)
    {
        if (count < capacity && waiters == 0)
        {
            return Admission.Accept;
        }

        return mode switch
        {
            QueueFullMode.DropOldest => count == 0 ? Admission.Wait : Admission.EvictOldest,
            QueueFullMode.DropNewest => count == 0 ? Admission.Wait : Admission.EvictNewest,
            QueueFullMode.Reject => Admission.Reject,
            _ => Admission.Wait,
        };
    }

    /// <summary>The <see cref="PostResult"/> of a fire-and-forget post that was decided without waiting.</summary>
    /// <param name="admission">The decision.</param>
    /// <returns>What the post returns.</returns>
    public static PostResult ToPostResult(Admission admission) => admission switch
    {
        Admission.Accept => PostResult.Accepted,
        Admission.EvictOldest or Admission.EvictNewest => PostResult.AcceptedAfterDrop,
        Admission.Reject => PostResult.Rejected,
        _ => PostResult.QueueFull,
    };

    /// <summary>The drop reason of an evicted or refused item.</summary>
    /// <param name="admission">The decision.</param>
    /// <returns>The reason.</returns>
    public static DropReason ToDropReason(Admission admission) => admission switch
    {
        Admission.EvictOldest => DropReason.DroppedOldest,
        Admission.EvictNewest => DropReason.DroppedNewest,
        _ => DropReason.Rejected,
    };
}
