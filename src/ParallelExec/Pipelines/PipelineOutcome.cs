namespace ParallelExec.Pipelines;

/// <summary>How a pipeline run ended.</summary>
public enum PipelineOutcome
{
    /// <summary>Every item read from the source ended (succeeded, or was failed, filtered or dropped and reported).</summary>
    Completed = 0,

    /// <summary>A failure stopped the run (<see cref="PipelineFailurePolicy.Stop"/>); what was inside was cancelled.</summary>
    Stopped = 1,

    /// <summary>The caller's token, or the drain timeout of a disposal, cancelled the run.</summary>
    Cancelled = 2,
}
