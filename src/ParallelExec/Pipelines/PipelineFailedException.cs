namespace ParallelExec.Pipelines;

/// <summary>Thrown by <see cref="PipelineResult.ThrowIfFailed"/> when a failure stopped a pipeline run.</summary>
public sealed class PipelineFailedException : Exception
{
    /// <summary>Creates the exception with a message and no result.</summary>
    public PipelineFailedException()
        : this("A pipeline run was stopped by a failure.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message.</param>
    public PipelineFailedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the failure.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The failure.</param>
    public PipelineFailedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal PipelineFailedException(PipelineResult result)
        : base($"The pipeline '{result.Name}' was stopped by a failure: {result.Failure?.Message}", result.Failure) => Result = result;

    /// <summary>Gets the run's result, with each stage's counts.</summary>
    public PipelineResult? Result { get; }
}
