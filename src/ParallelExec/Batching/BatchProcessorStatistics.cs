namespace ParallelExec.Batching;

/// <summary>
/// A point-in-time snapshot of a <see cref="BatchProcessor{TItem, TResult}"/>, returned by
/// <see cref="BatchProcessor{TItem, TResult}.GetStatistics"/>: the ledger plus the batching extras.
/// </summary>
/// <remarks>
/// The ledger counts submissions (two coalesced submissions count twice): <see cref="LedgerSnapshot.Queued"/> holds the
/// submissions waiting in the open batch or in flushed batches not yet started, <see cref="LedgerSnapshot.InFlight"/>
/// those inside a running handler call. A <see cref="BatchProcessor{TItem, TResult}.TryPost"/> that returned
/// <see cref="PostResult.QueueFull"/>, or a submission cancelled before it was enqueued, is not counted.
/// </remarks>
public sealed class BatchProcessorStatistics : ComponentStatistics
{
    internal BatchProcessorStatistics(string name, LedgerSnapshot ledger)
        : base(name, ledger)
    {
    }

    /// <summary>Gets the number of submissions that shared the slot of an equal item (coalescing).</summary>
    public long Coalesced { get; internal init; }

    /// <summary>Gets the number of batches whose handler call is running now.</summary>
    public int RunningBatches { get; internal init; }

    /// <summary>Gets the number of batches flushed because they reached the batch size.</summary>
    public long FlushedBySize { get; internal init; }

    /// <summary>Gets the number of batches flushed because their oldest item waited <see cref="BatchProcessorOptions{TItem}.MaxDelay"/>.</summary>
    public long FlushedByTime { get; internal init; }

    /// <summary>Gets the number of batches flushed by <see cref="BatchProcessor{TItem, TResult}.FlushAsync"/>.</summary>
    public long FlushedByRequest { get; internal init; }

    /// <summary>
    /// Gets the number of batches flushed because intake stopped (<see cref="BatchProcessor{TItem, TResult}.Complete"/> or
    /// <see cref="BatchProcessor{TItem, TResult}.DisposeAsync"/>).
    /// </summary>
    public long FlushedOnDispose { get; internal init; }

    /// <summary>Gets the total number of batches flushed.</summary>
    public long Batches => FlushedBySize + FlushedByTime + FlushedByRequest + FlushedOnDispose;

    /// <summary>Gets the number of bulk handler calls made, including the extra calls made while bisecting.</summary>
    public long HandlerCalls { get; internal init; }

    /// <summary>Gets the size at which a batch is flushed now (moves when adaptive sizing is on).</summary>
    public int CurrentBatchSize { get; internal init; }

    /// <summary>Gets the duration of the most recent completed batch (all its handler calls), or zero before the first.</summary>
    public TimeSpan LastBatchLatency { get; internal init; }
}
