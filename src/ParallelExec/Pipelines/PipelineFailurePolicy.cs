namespace ParallelExec.Pipelines;

/// <summary>What a pipeline does when an item's work throws at one of its stages.</summary>
public enum PipelineFailurePolicy
{
    /// <summary>
    /// The failed item is counted failed at its stage and reported to <see cref="PipelineOptions.OnError"/> (its
    /// <see cref="FailedItem.Key"/> is the stage's name); the other items go on.
    /// </summary>
    SkipAndReport = 0,

    /// <summary>
    /// The first failure stops the pipeline: the source is no longer read, the work in flight is cancelled, and every
    /// item still inside is reported to <see cref="PipelineOptions.OnDropped"/> with <see cref="DropReason.Cancelled"/>.
    /// The result's <see cref="PipelineResult.Failure"/> holds the exception.
    /// </summary>
    Stop = 1,
}
