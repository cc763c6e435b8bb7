namespace ParallelExec;

/// <summary>
/// The exception an awaiting caller receives when its item was rejected by, or evicted from, a full bounded queue, or
/// was cancelled because the component's drain timeout passed.
/// </summary>
/// <remarks>
/// This is how the ledger (every item ends exactly once) reaches a caller who awaits a result: an item that never ran
/// because of a queue policy the user chose completes with this exception, never silently.
/// </remarks>
public sealed class ItemDroppedException : InvalidOperationException
{
    /// <summary>Creates the exception with the reason the item was dropped.</summary>
    /// <param name="reason">Why the item did not run.</param>
    public ItemDroppedException(DropReason reason)
        : base(CreateMessage(reason))
    {
        Reason = reason;
    }

    /// <summary>Creates the exception with the reason and a custom message.</summary>
    /// <param name="reason">Why the item did not run.</param>
    /// <param name="message">The message that describes the error.</param>
    public ItemDroppedException(DropReason reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    /// <summary>Gets why the item did not run.</summary>
    public DropReason Reason { get; }

    private static string CreateMessage(DropReason reason) => reason switch
    {
        DropReason.Rejected => "The item was rejected because the queue was full (QueueFullMode.Reject).",
        DropReason.DroppedOldest => "The item was dropped as the oldest in a full queue (QueueFullMode.DropOldest).",
        DropReason.DroppedNewest => "The item was dropped as the newest in a full queue (QueueFullMode.DropNewest).",
        DropReason.DrainTimeout => "The item was cancelled because the component was disposed and its drain timeout passed.",
        DropReason.Cancelled => "The item was cancelled before it ended.",
        _ => $"The item was dropped ({reason}).",
    };
}
