namespace ParallelExec.Coordination;

/// <summary>What offering a message to one mailbox did.</summary>
internal enum EnqueueStatus
{
    Accepted,
    Rejected,
    MustWait,

    /// <summary>The subscription was disposed between routing and delivery; the message did not reach it.</summary>
    Closed,
}
