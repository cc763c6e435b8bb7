namespace ParallelExec.Workers;

/// <summary>
/// A consistent snapshot of a <see cref="WorkerPool"/>'s counters, taken by <see cref="WorkerPool.GetStatistics"/>.
/// </summary>
/// <remarks>
/// When the pool is idle, <see cref="Submitted"/> equals <see cref="Completed"/> + <see cref="Failed"/> +
/// <see cref="Cancelled"/> + <see cref="Dropped"/> + <see cref="Rejected"/>: every submitted item ends exactly once.
/// </remarks>
public readonly struct WorkerPoolStatistics
{
    internal WorkerPoolStatistics(
        int workerCount, int queued, int waiting, int running, int peakQueueLength,
        long submitted, long completed, long failed, long cancelled, long dropped, long rejected)
    {
        WorkerCount = workerCount;
        Queued = queued;
        Waiting = waiting;
        Running = running;
        PeakQueueLength = peakQueueLength;
        Submitted = submitted;
        Completed = completed;
        Failed = failed;
        Cancelled = cancelled;
        Dropped = dropped;
        Rejected = rejected;
    }

    /// <summary>Gets the number of workers the pool is sized to (see <see cref="WorkerPool.SetWorkerCount"/>).</summary>
    public int WorkerCount { get; }

    /// <summary>Gets the number of items in the queue (accepted, not yet running).</summary>
    public int Queued { get; }

    /// <summary>Gets the number of submissions waiting for room in a full queue (<see cref="QueueFullMode.Wait"/>).</summary>
    public int Waiting { get; }

    /// <summary>Gets the number of items running now (on workers or inline).</summary>
    public int Running { get; }

    /// <summary>Gets the highest <see cref="Queued"/> value seen since the pool was created.</summary>
    public int PeakQueueLength { get; }

    /// <summary>Gets the number of items submitted (including those later rejected, dropped or cancelled).</summary>
    public long Submitted { get; }

    /// <summary>Gets the number of items that ran to completion without an exception.</summary>
    public long Completed { get; }

    /// <summary>Gets the number of items whose work threw (after the resilience pipeline, if any, gave up).</summary>
    public long Failed { get; }

    /// <summary>Gets the number of items cancelled: removed from the queue or waiting list, or ended by their token.</summary>
    public long Cancelled { get; }

    /// <summary>Gets the number of items evicted by <see cref="QueueFullMode.DropOldest"/>/<see cref="QueueFullMode.DropNewest"/> or by a disposal deadline.</summary>
    public long Dropped { get; }

    /// <summary>Gets the number of items refused by a full queue in <see cref="QueueFullMode.Reject"/> mode.</summary>
    public long Rejected { get; }
}
