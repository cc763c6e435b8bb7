namespace ParallelExec.Coordination;

/// <summary>
/// What happened to one published message, fanned out to its subscribers: how many matched, how many mailboxes
/// accepted it, how many refused it, and how many older messages were dropped to make room for it. The words are those
/// of <see cref="PostResult"/> and <see cref="DropReason"/>, counted over the subscribers.
/// </summary>
/// <param name="MessageId">The bus-wide id given to the message (also on <see cref="BusMessage{T}.Id"/>).</param>
/// <param name="Matched">Subscribers whose pattern and message type matched the message.</param>
/// <param name="Accepted">Subscribers whose mailbox accepted the message (<see cref="PostResult.Accepted"/> or
/// <see cref="PostResult.AcceptedAfterDrop"/>).</param>
/// <param name="Rejected">Subscribers whose full mailbox refused the message (<see cref="DropReason.Rejected"/>: a
/// <see cref="QueueFullMode.Reject"/> mailbox, or a <see cref="QueueFullMode.Wait"/> mailbox that a handler published
/// into from inside its own handler).</param>
/// <param name="Dropped">Older messages dropped from full <see cref="QueueFullMode.DropOldest"/> or
/// <see cref="QueueFullMode.DropNewest"/> mailboxes to make room for this one (<see cref="DropReason.DroppedOldest"/>,
/// <see cref="DropReason.DroppedNewest"/>), each reported to <see cref="CoordinationBusOptions.OnDropped"/>.</param>
public readonly record struct PublishResult(long MessageId, int Matched, int Accepted, int Rejected, int Dropped)
{
    /// <summary>Gets a value indicating whether no mailbox accepted the message (it went to the dead letters when nobody
    /// matched).</summary>
    public bool NoneAccepted => Accepted == 0;
}
