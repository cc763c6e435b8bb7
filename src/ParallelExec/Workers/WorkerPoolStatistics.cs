namespace ParallelExec.Workers;

/// <summary>
/// A consistent snapshot of a <see cref="WorkerPool"/>, taken by <see cref="WorkerPool.GetStatistics"/>: the ledger
/// (<see cref="ComponentStatistics.Ledger"/>) and the pool's own extras.
/// </summary>
/// <remarks>
/// In the ledger, <see cref="LedgerSnapshot.Queued"/> counts the items waiting for a worker and the submissions waiting
/// for room in a full queue (<see cref="Waiting"/>); <see cref="LedgerSnapshot.InFlight"/> counts the items running on
/// workers or inline. The snapshot is read under the pool's lock, so it always balances
/// (<see cref="LedgerSnapshot.IsBalanced"/>).
/// </remarks>
public sealed class WorkerPoolStatistics : ComponentStatistics
{
    internal WorkerPoolStatistics(string name, LedgerSnapshot ledger, int maxDegreeOfParallelism, int peakQueueLength, int waiting,
        IReadOnlyList<PriorityLaneCounts> lanes)
        : base(name, ledger)
    {
        Lanes = lanes;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
        PeakQueueLength = peakQueueLength;
        Waiting = waiting;
    }

    /// <summary>Gets how many items the pool runs at once at most (see <see cref="WorkerPool.SetMaxDegreeOfParallelism"/>).</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Gets the highest number of items that waited in the queue for a worker at once since the pool was created.</summary>
    public int PeakQueueLength { get; }

    /// <summary>
    /// Gets how many submitters wait for room in a full queue (<see cref="QueueFullMode.Wait"/>); they are part of
    /// <see cref="LedgerSnapshot.Queued"/>.
    /// </summary>
    public int Waiting { get; }

    /// <summary>Gets the counts per priority lane (index = priority), or an empty list when priorities are off.</summary>
    public IReadOnlyList<PriorityLaneCounts> Lanes { get; }
}
