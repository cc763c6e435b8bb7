namespace ParallelExec.Pipelines;

/// <summary>
/// A snapshot of a running (or ended) pipeline: one <see cref="PipelineStageStatistics"/> per stage, in order. The
/// <see cref="ComponentStatistics.Ledger"/> is the sum of the stages' ledgers: for a pipeline an item is one entry
/// into one stage.
/// </summary>
public sealed class PipelineStatistics : ComponentStatistics
{
    internal PipelineStatistics(string name, IReadOnlyList<PipelineStageStatistics> stages)
        : base(name, Sum(stages)) => Stages = stages;

    /// <summary>Gets the stages' snapshots, in pipeline order.</summary>
    public IReadOnlyList<PipelineStageStatistics> Stages { get; }

    private static LedgerSnapshot Sum(IReadOnlyList<PipelineStageStatistics> stages)
    {
        var sum = default(LedgerSnapshot);
        foreach (var stage in stages)
        {
            var l = stage.Ledger;
            sum = new LedgerSnapshot
            {
                Submitted = sum.Submitted + l.Submitted,
                Succeeded = sum.Succeeded + l.Succeeded,
                Failed = sum.Failed + l.Failed,
                Cancelled = sum.Cancelled + l.Cancelled,
                Dropped = sum.Dropped + l.Dropped,
                Rejected = sum.Rejected + l.Rejected,
                InFlight = sum.InFlight + l.InFlight,
                Queued = sum.Queued + l.Queued,
            };
        }

        return sum;
    }
}
