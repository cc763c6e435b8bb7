namespace ParallelExec.Coordination;

/// <summary>
/// A snapshot of a bus's counters, cheap to take (<see cref="CoordinationBus.GetStatistics"/>). An item of the
/// <see cref="ComponentStatistics.Ledger"/> is one delivery: a message offered to one matching subscriber.
/// </summary>
/// <remarks>
/// In the ledger, <see cref="LedgerSnapshot.Succeeded"/> counts deliveries a handler completed (or a stream yielded),
/// <see cref="LedgerSnapshot.Failed"/> those whose handler threw, <see cref="LedgerSnapshot.Rejected"/> those a full
/// <see cref="QueueFullMode.Reject"/> mailbox refused, <see cref="LedgerSnapshot.Dropped"/> those evicted or cut by the
/// drain timeout, <see cref="LedgerSnapshot.Cancelled"/> publishers' waits for room that were cancelled, and
/// <see cref="LedgerSnapshot.Queued"/> the messages waiting in mailboxes (and publishers waiting for room). The
/// counters are read without stopping publishers, so a snapshot of a busy bus may be a step out of balance.
/// </remarks>
public sealed class CoordinationBusStatistics : ComponentStatistics
{
    internal CoordinationBusStatistics(string name, LedgerSnapshot ledger, long published, int subscriptions, long deadLetters, long deadLettersLost)
        : base(name, ledger)
    {
        Published = published;
        Subscriptions = subscriptions;
        DeadLetters = deadLetters;
        DeadLettersLost = deadLettersLost;
    }

    /// <summary>Gets how many messages were published (requests included); each fans out to its matching subscribers.</summary>
    public long Published { get; }

    /// <summary>Gets how many subscriptions are active.</summary>
    public int Subscriptions { get; }

    /// <summary>Gets how many messages went to the dead letters (no subscriber, or a handler failure).</summary>
    public long DeadLetters { get; }

    /// <summary>Gets how many dead letters were evicted from the full dead-letter queue before anyone read them.</summary>
    public long DeadLettersLost { get; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{base.ToString()}, published {Published}, subscriptions {Subscriptions}, dead letters {DeadLetters} (lost {DeadLettersLost})";
}
