namespace ParallelExec.Coordination;

/// <summary>
/// A message one subscriber's full mailbox refused or evicted, as reported to <see cref="CoordinationBusOptions.OnDropped"/>.
/// </summary>
public sealed class DroppedMessage
{
    internal DroppedMessage(string topic, long messageId, object? message, string subscriptionName, DropReason reason)
    {
        Topic = topic;
        MessageId = messageId;
        Message = message;
        SubscriptionName = subscriptionName;
        Reason = reason;
    }

    /// <summary>Gets the topic the message was published to.</summary>
    public string Topic { get; }

    /// <summary>Gets the bus-wide id of the message.</summary>
    public long MessageId { get; }

    /// <summary>Gets the payload.</summary>
    public object? Message { get; }

    /// <summary>Gets the name of the subscription that lost the message.</summary>
    public string SubscriptionName { get; }

    /// <summary>Gets why the message was dropped.</summary>
    public DropReason Reason { get; }

    /// <inheritdoc/>
    public override string ToString() => $"#{MessageId} {Topic} dropped for {SubscriptionName}: {Reason}";
}
