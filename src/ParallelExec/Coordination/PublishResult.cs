namespace ParallelExec.Coordination;

/// <summary>
/// What happened to one published message: how many subscribers matched, how many took it into their mailboxes, and
/// how many refused it or evicted an older message to make room.
/// </summary>
/// <param name="MessageId">The bus-wide id given to the message (also on <see cref="BusMessage{T}.Id"/>).</param>
/// <param name="Matched">Subscribers whose pattern and message type matched the message.</param>
/// <param name="Delivered">Subscribers that took the message into their mailbox.</param>
/// <param name="Rejected">Subscribers whose full mailbox refused the message (<see cref="QueueFullMode.Reject"/>, or a
/// <see cref="QueueFullMode.Wait"/> mailbox that a handler published into from inside its own handler).</param>
/// <param name="Evicted">Older messages evicted from full <see cref="QueueFullMode.DropOldest"/> or
/// <see cref="QueueFullMode.DropNewest"/> mailboxes to make room for this one.</param>
public readonly record struct PublishResult(long MessageId, int Matched, int Delivered, int Rejected, int Evicted)
{
    /// <summary>Gets a value indicating whether no subscriber took the message (it went to the dead letters when nobody
    /// matched).</summary>
    public bool NotDelivered => Delivered == 0;
}
