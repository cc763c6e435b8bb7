namespace ParallelExec.Pipelines;

/// <summary>
/// A snapshot of one stage of a pipeline. Every item that entered the stage is in exactly one of <see cref="Left"/>,
/// <see cref="Failed"/>, <see cref="Filtered"/>, <see cref="Dropped"/>, or still inside (the ledger's
/// <see cref="LedgerSnapshot.Queued"/> and <see cref="LedgerSnapshot.InFlight"/>).
/// </summary>
/// <remarks>
/// The <see cref="ComponentStatistics.Ledger"/> says the same in the shared words: <c>Submitted</c> is
/// <see cref="Entered"/>, <c>Succeeded</c> is <see cref="Left"/> plus <see cref="Filtered"/>, and <see cref="Dropped"/>
/// is the ledger's <c>Cancelled</c> + <c>Dropped</c> + <c>Rejected</c>.
/// </remarks>
public sealed class PipelineStageStatistics : ComponentStatistics
{
    internal PipelineStageStatistics(string name, LedgerSnapshot ledger, long left, long filtered, long emitted, int maxDegreeOfParallelism)
        : base(name, ledger)
    {
        Left = left;
        Filtered = filtered;
        Emitted = emitted;
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
    }

    /// <summary>Gets how many items entered the stage (were written into its input queue).</summary>
    public long Entered => Ledger.Submitted;

    /// <summary>Gets how many items left the stage: their outputs were passed on (or, at a sink, the item was consumed).</summary>
    public long Left { get; }

    /// <summary>Gets how many items' work threw (reported to <see cref="PipelineOptions.OnError"/>).</summary>
    public long Failed => Ledger.Failed;

    /// <summary>Gets how many items a <c>Where</c> stage filtered out.</summary>
    public long Filtered { get; }

    /// <summary>Gets how many items were dropped: cancelled, evicted or refused by the full mode, or cut by the drain timeout.</summary>
    public long Dropped => Ledger.Cancelled + Ledger.Dropped + Ledger.Rejected;

    /// <summary>
    /// Gets how many outputs the stage passed on: equal to <see cref="Left"/> for a one-to-one stage, the number of
    /// batches for <c>Batch</c>, of elements for <c>SelectMany</c> and <c>Unbatch</c>, zero for a sink.
    /// </summary>
    public long Emitted { get; }

    /// <summary>Gets how many items the stage works on at once.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: entered {Entered}, left {Left}, failed {Failed}, filtered {Filtered}, dropped {Dropped}, inside {Ledger.Queued + Ledger.InFlight}";
}
