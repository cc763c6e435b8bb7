namespace ParallelExec.Workers;

/// <summary>
/// The counts of one priority lane of a <see cref="WorkerPool"/> (<see cref="WorkerPoolStatistics.Lanes"/>): every item
/// submitted to the lane is queued, has started, was dropped (evicted, refused, cancelled while waiting or queued, cut
/// by the drain timeout), or still waits for room (<c>Submitted - Queued - Started - Dropped</c>).
/// </summary>
/// <param name="Priority">The lane: 0 is the default and lowest.</param>
/// <param name="Submitted">Items submitted to the lane.</param>
/// <param name="Queued">Items waiting in the lane for a worker.</param>
/// <param name="Started">Items the workers took from the lane (for lane 0, also its items cancelled while queued).</param>
/// <param name="Dropped">Items that ended without starting.</param>
public readonly record struct PriorityLaneCounts(int Priority, long Submitted, long Queued, long Started, long Dropped);
