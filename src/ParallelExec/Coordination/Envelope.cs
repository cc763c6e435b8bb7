using System.Diagnostics;

namespace ParallelExec.Coordination;

/// <summary>
/// One published message, shared by every subscriber that takes it (one allocation per publish, not per subscriber).
/// </summary>
internal abstract class Envelope
{
    protected Envelope(string topic, long id, DateTimeOffset publishedAt, IReplySink? reply)
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
    public IReplySink? Reply { get; }

    public abstract object? BoxedMessage { get; }

    /// <summary>The publisher's trace context, the parent of every delivery's span; default when nobody listened at publish.</summary>
    public virtual ActivityContext PublisherContext => default;

    /// <summary>The publish time on the bus's clock (<see cref="TimeProvider.GetTimestamp"/>), for the wait duration; 0
    /// when nobody measured it at publish.</summary>
    public virtual long PublishedTimestamp => 0;

    /// <summary>Reads the payload as <typeparamref name="T"/> without boxing when the published type is exactly
    /// <typeparamref name="T"/> (the common case); routing has already checked that the payload is a <typeparamref name="T"/>.</summary>
    public T MessageAs<T>() => this is Envelope<T> typed ? typed.Message : (T)BoxedMessage!;

    public BusMessage<T> ToBusMessage<T>() => new(Topic, MessageAs<T>(), Id, PublishedAt, Reply is not null);
}

/// <summary>An <see cref="Envelope"/> holding a payload of the type it was published with.</summary>
internal class Envelope<T> : Envelope
{
    public Envelope(string topic, T message, long id, DateTimeOffset publishedAt, IReplySink? reply)
        : base(topic, id, publishedAt, reply)
    {
        Message = message;
    }

    public T Message { get; }

    public override object? BoxedMessage => Message;
}

/// <summary>
/// An <see cref="Envelope{T}"/> that also carries what telemetry needs at delivery: the publisher's trace context and
/// the publish timestamp. Created only when someone listens, so that an unobserved publish allocates no more than before.
/// </summary>
internal sealed class ObservedEnvelope<T> : Envelope<T>
{
    private readonly ActivityContext _publisherContext;
    private readonly long _publishedTimestamp;

    public ObservedEnvelope(string topic, T message, long id, DateTimeOffset publishedAt, IReplySink? reply, ActivityContext publisherContext, long publishedTimestamp)
        : base(topic, message, id, publishedAt, reply)
    {
        _publisherContext = publisherContext;
        _publishedTimestamp = publishedTimestamp;
    }

    public override ActivityContext PublisherContext => _publisherContext;

    public override long PublishedTimestamp => _publishedTimestamp;
}
