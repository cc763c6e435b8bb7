namespace ParallelExec.Coordination;

/// <summary>
/// A message as a subscriber receives it: the payload with the topic it was published to and its bus-wide id.
/// </summary>
/// <typeparam name="T">The message type the subscriber asked for.</typeparam>
public readonly struct BusMessage<T>
{
    internal BusMessage(string topic, T message, long id, DateTimeOffset publishedAt, bool isRequest)
    {
        Topic = topic;
        Message = message;
        Id = id;
        PublishedAt = publishedAt;
        IsRequest = isRequest;
    }

    /// <summary>Gets the topic the message was published to (never a pattern).</summary>
    public string Topic { get; }

    /// <summary>Gets the payload.</summary>
    public T Message { get; }

    /// <summary>Gets the bus-wide id of the message, unique per bus; the same id every subscriber sees, and the one
    /// <see cref="PublishResult.MessageId"/> returned.</summary>
    public long Id { get; }

    /// <summary>Gets when the message was published, read from the bus's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset PublishedAt { get; }

    /// <summary>Gets a value indicating whether the message was sent with <c>RequestAsync</c> or <c>ScatterGatherAsync</c>
    /// (responders reply to it).</summary>
    public bool IsRequest { get; }

    /// <inheritdoc/>
    public override string ToString() => $"#{Id} {Topic}: {Message}";
}
