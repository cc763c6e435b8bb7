namespace ParallelExec.Pipelines;

/// <summary>How a pipeline run ended, and what happened at each stage.</summary>
public sealed class PipelineResult
{
    internal PipelineResult(string name, PipelineOutcome outcome, Exception? failure, IReadOnlyList<PipelineStageStatistics> stages)
    {
        Name = name;
        Outcome = outcome;
        Failure = failure;
        Stages = stages;
    }

    /// <summary>Gets the pipeline's name.</summary>
    public string Name { get; }

    /// <summary>Gets how the run ended.</summary>
    public PipelineOutcome Outcome { get; }

    /// <summary>
    /// Gets the exception that stopped the run (<see cref="PipelineFailurePolicy.Stop"/>), or that the source threw while
    /// it was read; <see langword="null"/> otherwise.
    /// </summary>
    public Exception? Failure { get; }

    /// <summary>Gets each stage's final counts, in pipeline order.</summary>
    public IReadOnlyList<PipelineStageStatistics> Stages { get; }

    /// <summary>Gets the total of failed items over the stages.</summary>
    public long Failed => Stages.Sum(stage => stage.Failed);

    /// <summary>Gets the total of dropped items over the stages.</summary>
    public long Dropped => Stages.Sum(stage => stage.Dropped);

    /// <summary>Gets a stage's counts by name.</summary>
    /// <param name="name">The stage's name.</param>
    /// <returns>The stage's final counts.</returns>
    /// <exception cref="KeyNotFoundException">No stage has that name.</exception>
    public PipelineStageStatistics this[string name] =>
        Stages.FirstOrDefault(stage => stage.Name == name) ?? throw new KeyNotFoundException($"The pipeline '{Name}' has no stage named '{name}'.");

    /// <summary>Throws when the run did not complete: the failure that stopped it, or a cancellation.</summary>
    /// <exception cref="PipelineFailedException">A failure stopped the run (its inner exception is the failure).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public void ThrowIfFailed()
    {
        switch (Outcome)
        {
            case PipelineOutcome.Stopped:
                throw new PipelineFailedException(this);
            case PipelineOutcome.Cancelled:
                throw new OperationCanceledException($"The pipeline '{Name}' was cancelled.");
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Outcome}; " + string.Join("; ", Stages);
}
