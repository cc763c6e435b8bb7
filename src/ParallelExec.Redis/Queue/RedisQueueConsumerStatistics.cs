namespace ParallelExec.Redis;

/// <summary>
/// A snapshot of a <see cref="RedisQueueConsumer{T}"/>'s counters. An item of the ledger is one delivery this consumer
/// took from the stream: succeeded when its handler returned and the entry was acknowledged, failed when its handler
/// threw (it will be delivered again) or when it was dead-lettered.
/// </summary>
public sealed class RedisQueueConsumerStatistics : ComponentStatistics
{
    internal RedisQueueConsumerStatistics(string name, LedgerSnapshot ledger, string consumerName, long claimed, long deadLettered, long reads)
        : base(name, ledger)
    {
        ConsumerName = consumerName;
        Claimed = claimed;
        DeadLettered = deadLettered;
        Reads = reads;
    }

    /// <summary>Gets the consumer's name in its group.</summary>
    public string ConsumerName { get; }

    /// <summary>Gets how many deliveries this consumer took over from others (or from its own failed runs) with <c>XAUTOCLAIM</c>.</summary>
    public long Claimed { get; }

    /// <summary>Gets how many items this consumer moved to the dead-letter stream.</summary>
    public long DeadLettered { get; }

    /// <summary>Gets how many reads of new items (<c>XREADGROUP</c>) the consumer has made.</summary>
    public long Reads { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{base.ToString()}, consumer {ConsumerName}, claimed {Claimed}, dead-lettered {DeadLettered}";
}
