namespace ParallelExec.Coordination;

/// <summary>
/// A message that nobody handled: published to a topic nobody subscribed to, or whose handler failed.
/// </summary>
public sealed class DeadLetter
{
    internal DeadLetter(string topic, long messageId, object? message, DeadLetterReason reason, string? subscriptionName, Exception? exception, DateTimeOffset timestamp)
    {
        Topic = topic;
        MessageId = messageId;
        Message = message;
        Reason = reason;
        SubscriptionName = subscriptionName;
        Exception = exception;
        Timestamp = timestamp;
    }

    /// <summary>Gets the topic the message was published to.</summary>
    public string Topic { get; }

    /// <summary>Gets the bus-wide id of the message.</summary>
    public long MessageId { get; }

    /// <summary>Gets the payload.</summary>
    public object? Message { get; }

    /// <summary>Gets why the message is a dead letter.</summary>
    public DeadLetterReason Reason { get; }

    /// <summary>Gets the name of the subscription whose handler failed; null for <see cref="DeadLetterReason.NoSubscribers"/>.</summary>
    public string? SubscriptionName { get; }

    /// <summary>Gets the handler's exception; null for <see cref="DeadLetterReason.NoSubscribers"/>.</summary>
    public Exception? Exception { get; }

    /// <summary>Gets when the message became a dead letter, read from the bus's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <inheritdoc/>
    public override string ToString() => Reason == DeadLetterReason.NoSubscribers
        ? $"#{MessageId} {Topic}: no subscribers"
        : $"#{MessageId} {Topic}: handler of {SubscriptionName} failed: {Exception?.Message}";
}
