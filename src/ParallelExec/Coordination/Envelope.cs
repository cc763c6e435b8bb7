namespace ParallelExec.Coordination;

/// <summary>
/// One published message, shared by every subscriber that takes it (one allocation per publish, not per subscriber).
/// </summary>
internal abstract class Envelope
{
    protected Envelope(string topic, long id, DateTimeOffset publishedAt, ReplySink? reply)
    {
        Topic = topic;
        Id = id;
        PublishedAt = publishedAt;
        Reply = reply;
    }

    public string Topic { get; }

    public long Id { get; }

    public DateTimeOffset PublishedAt { get; }

    /// <summary>Where responders send their reply; null for a plain publish.</summary>
    public ReplySink? Reply { get; }

    public abstract object? BoxedMessage { get; }

    /// <summary>Reads the payload as <typeparamref name="T"/> without boxing when the published type is exactly
    /// <typeparamref name="T"/> (the common case); routing has already checked that the payload is a <typeparamref name="T"/>.</summary>
    public T MessageAs<T>() => this is Envelope<T> typed ? typed.Message : (T)BoxedMessage!;

    public BusMessage<T> ToBusMessage<T>() => new(Topic, MessageAs<T>(), Id, PublishedAt, Reply is not null);
}

/// <summary>An <see cref="Envelope"/> holding a payload of the type it was published with.</summary>
internal sealed class Envelope<T> : Envelope
{
    public Envelope(string topic, T message, long id, DateTimeOffset publishedAt, ReplySink? reply)
        : base(topic, id, publishedAt, reply)
    {
        Message = message;
    }

    public T Message { get; }

    public override object? BoxedMessage => Message;
}
