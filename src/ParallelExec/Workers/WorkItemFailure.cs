namespace ParallelExec.Workers;

/// <summary>
/// Describes a fire-and-forget work item that failed; passed to <see cref="WorkerPoolOptions.OnError"/>.
/// </summary>
public readonly struct WorkItemFailure
{
    internal WorkItemFailure(Exception exception, object? key, Delegate work)
    {
        Exception = exception;
        Key = key;
        Work = work;
    }

    /// <summary>Gets the exception the work item threw.</summary>
    public Exception Exception { get; }

    /// <summary>Gets the ordering key the item was posted with, or <see langword="null"/>.</summary>
    public object? Key { get; }

    /// <summary>Gets the delegate that was posted, so the caller can tell which item it was.</summary>
    public Delegate Work { get; }
}
