namespace ParallelExec.Scheduling;

/// <summary>
/// Thrown when a task graph, or a set of tasks added to a running graph, is invalid: a duplicate id, a dependency on an
/// unknown task, a task that depends on itself, or a cycle.
/// </summary>
public sealed class TaskGraphValidationException : InvalidOperationException
{
    /// <summary>Initializes a new instance with a generic message and no details.</summary>
    public TaskGraphValidationException()
        : this("The task graph is invalid.", [], null)
    {
    }

    /// <summary>Initializes a new instance with the given message and no details.</summary>
    /// <param name="message">The message.</param>
    public TaskGraphValidationException(string message)
        : this(message, [], null)
    {
    }

    /// <summary>Initializes a new instance with the given message and inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public TaskGraphValidationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [];
    }

    internal TaskGraphValidationException(string message, IReadOnlyList<string> errors, IReadOnlyList<string>? cycle)
        : base(message)
    {
        Errors = errors;
        Cycle = cycle;
    }

    /// <summary>Gets every problem found, one sentence each.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>
    /// Gets the tasks of the cycle that was found, in dependency order, the first id repeated at the end (each task
    /// depends on the next), or <see langword="null"/> when the problem is not a cycle.
    /// </summary>
    public IReadOnlyList<string>? Cycle { get; }
}
