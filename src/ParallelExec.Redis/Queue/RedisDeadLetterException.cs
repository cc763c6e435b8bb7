namespace ParallelExec.Redis;

/// <summary>An item a <see cref="RedisQueueConsumer{T}"/> moved to its dead-letter stream instead of running it (reported to <see cref="RedisWorkQueueOptions.OnError"/>).</summary>
public sealed class RedisDeadLetterException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RedisDeadLetterException"/> class.</summary>
    /// <param name="streamKey">The queue's stream.</param>
    /// <param name="entryId">The entry moved.</param>
    /// <param name="reason">Why.</param>
    public RedisDeadLetterException(string streamKey, string entryId, string reason)
        : base($"Entry {entryId} of stream '{streamKey}' was moved to the dead-letter stream: {reason}")
    {
        StreamKey = streamKey;
        EntryId = entryId;
    }

    /// <summary>Gets the queue's stream.</summary>
    public string StreamKey { get; }

    /// <summary>Gets the id of the entry moved.</summary>
    public string EntryId { get; }
}
