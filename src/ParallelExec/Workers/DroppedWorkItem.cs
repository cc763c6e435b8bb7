namespace ParallelExec.Workers;

/// <summary>
/// Describes a work item that a <see cref="WorkerPool"/> did not run because of its queue policy or its disposal
/// deadline; passed to <see cref="WorkerPoolOptions.OnDropped"/>.
/// </summary>
public readonly struct DroppedWorkItem
{
    internal DroppedWorkItem(DropReason reason, object? key, Delegate work)
    {
        Reason = reason;
        Key = key;
        Work = work;
    }

    /// <summary>Gets why the item did not run.</summary>
    public DropReason Reason { get; }

    /// <summary>Gets the ordering key the item was submitted with, or <see langword="null"/>.</summary>
    public object? Key { get; }

    /// <summary>Gets the delegate that was submitted, so the caller can tell which item it was.</summary>
    public Delegate Work { get; }
}
