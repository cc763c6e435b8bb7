namespace ParallelExec.Batching;

/// <summary>
/// A point-in-time snapshot of a <see cref="BatchProcessor{TItem, TResult}"/>, returned by
/// <see cref="BatchProcessor{TItem, TResult}.GetStatistics"/>.
/// </summary>
/// <remarks>
/// Item counts are per submission (two coalesced submissions count twice). Once the processor is idle,
/// <see cref="Submitted"/> equals <see cref="Succeeded"/> + <see cref="Failed"/> + <see cref="Cancelled"/> +
/// <see cref="Dropped"/>: the ledger.
/// </remarks>
public sealed class BatchProcessorStatistics
{
    /// <summary>Gets the processor's name (<see cref="BatchProcessorOptions{TItem}.Name"/>).</summary>
    public string? Name { get; init; }

    /// <summary>Gets the number of submissions accepted into a batch.</summary>
    public long Submitted { get; init; }

    /// <summary>Gets the number of submissions that shared the slot of an equal item (coalescing).</summary>
    public long Coalesced { get; init; }

    /// <summary>Gets the number of submissions that completed with a result.</summary>
    public long Succeeded { get; init; }

    /// <summary>Gets the number of submissions that completed with an exception from the handler (or a missing key).</summary>
    public long Failed { get; init; }

    /// <summary>Gets the number of submissions cancelled by their token while waiting in a batch.</summary>
    public long Cancelled { get; init; }

    /// <summary>Gets the number of submissions dropped or rejected by the full mode or the disposal deadline.</summary>
    public long Dropped { get; init; }

    /// <summary>Gets the number of items (slots) waiting for a handler call now.</summary>
    public int Pending { get; init; }

    /// <summary>Gets the number of batches whose handler call is running now.</summary>
    public int RunningBatches { get; init; }

    /// <summary>Gets the number of batches flushed because they reached the batch size.</summary>
    public long FlushedBySize { get; init; }

    /// <summary>Gets the number of batches flushed because their oldest item waited <see cref="BatchProcessorOptions{TItem}.MaxDelay"/>.</summary>
    public long FlushedByTime { get; init; }

    /// <summary>Gets the number of batches flushed by <see cref="BatchProcessor{TItem, TResult}.FlushAsync"/>.</summary>
    public long FlushedByRequest { get; init; }

    /// <summary>Gets the number of batches flushed by disposal.</summary>
    public long FlushedOnDispose { get; init; }

    /// <summary>Gets the total number of batches flushed.</summary>
    public long Batches => FlushedBySize + FlushedByTime + FlushedByRequest + FlushedOnDispose;

    /// <summary>Gets the number of bulk handler calls made, including the extra calls made while bisecting.</summary>
    public long HandlerCalls { get; init; }

    /// <summary>Gets the size at which a batch is flushed now (moves when adaptive sizing is on).</summary>
    public int CurrentBatchSize { get; init; }

    /// <summary>Gets the duration of the most recent completed batch (all its handler calls), or zero before the first.</summary>
    public TimeSpan LastBatchLatency { get; init; }
}
