namespace ParallelExec.Coordination;

/// <summary>What offering a message to one mailbox did: <see cref="PostResult"/>'s words, plus <see cref="Closed"/>.</summary>
internal enum EnqueueStatus
{
    /// <summary>The mailbox took the message.</summary>
    Accepted,

    /// <summary>The full mailbox refused it (reported as <see cref="DropReason.Rejected"/>).</summary>
    Rejected,

    /// <summary>The full <see cref="QueueFullMode.Wait"/> mailbox has no room: the publisher waits for it.</summary>
    QueueFull,

    /// <summary>The subscription was disposed between routing and delivery; the message did not reach it.</summary>
    Closed,
}
