namespace ParallelExec.Redis;

/// <summary>One delivery of a queued item to a consumer's handler.</summary>
/// <typeparam name="T">The payload type.</typeparam>
/// <remarks>
/// Delivery is at least once: the same <see cref="Id"/> can reach a handler again (its consumer died before
/// acknowledging it, or its handler failed). Make the work effectively once by keying its effect on <see cref="Id"/>:
/// write the result with the id as a unique key (<c>SET result:&lt;id&gt; ... NX</c>, an upsert, a unique index) or
/// check a completed-ids set first.
/// </remarks>
public sealed class RedisWorkItem<T>
{
    internal RedisWorkItem(string id, string entryId, long deliveryCount, T message)
    {
        Id = id;
        EntryId = entryId;
        DeliveryCount = deliveryCount;
        Message = message;
    }

    /// <summary>Gets the item's id given by its producer: the idempotency key.</summary>
    public string Id { get; }

    /// <summary>Gets the id of the stream entry that carries the item (a producer's retry of the same item makes a second entry with the same <see cref="Id"/>).</summary>
    public string EntryId { get; }

    /// <summary>Gets how many times the entry has been delivered, this delivery included (1 on the first).</summary>
    public long DeliveryCount { get; }

    /// <summary>Gets the payload.</summary>
    public T Message { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Id} (entry {EntryId}, delivery {DeliveryCount})";
}
