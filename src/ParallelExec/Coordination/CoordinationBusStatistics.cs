namespace ParallelExec.Coordination;

/// <summary>
/// A snapshot of a bus's counters, cheap to take (<see cref="CoordinationBus.GetStatistics"/>).
/// </summary>
/// <param name="Published">Messages published (including requests).</param>
/// <param name="Delivered">Message copies taken into subscriber mailboxes (one per subscriber that took a message).</param>
/// <param name="Handled">Message copies whose handler completed, or that a stream subscription yielded.</param>
/// <param name="Failed">Message copies whose handler threw (after the resilience pipeline).</param>
/// <param name="Dropped">Message copies a full mailbox refused or evicted, or that a drain deadline discarded.</param>
/// <param name="DeadLettered">Messages that went to the dead letters.</param>
/// <param name="DeadLettersLost">Dead letters evicted from the full dead-letter queue before anyone read them.</param>
/// <param name="Subscriptions">Active subscriptions.</param>
/// <param name="MailboxDepth">Messages waiting in all mailboxes now.</param>
public readonly record struct CoordinationBusStatistics(
    long Published,
    long Delivered,
    long Handled,
    long Failed,
    long Dropped,
    long DeadLettered,
    long DeadLettersLost,
    int Subscriptions,
    int MailboxDepth);
