namespace ParallelExec.Coordination;

/// <summary>
/// Thrown at once by <see cref="CoordinationBus.RequestAsync{TRequest, TReply}(string, TRequest, TimeSpan?, CancellationToken)"/>
/// and <see cref="CoordinationBus.ScatterGatherAsync{TRequest, TReply}(string, TRequest, TimeSpan, int, CancellationToken)"/>
/// when no responder of a matching request and reply type is subscribed to the topic, instead of waiting for the timeout.
/// </summary>
public sealed class NoResponderException : InvalidOperationException
{
    /// <summary>Creates the exception for a topic.</summary>
    /// <param name="topic">The topic the request was sent to.</param>
    public NoResponderException(string topic)
        : base($"No responder is subscribed to topic \"{topic}\" for this request and reply type.")
    {
        Topic = topic;
    }

    /// <summary>Creates the exception for a topic with a custom message.</summary>
    /// <param name="topic">The topic the request was sent to.</param>
    /// <param name="message">The message that describes the error.</param>
    public NoResponderException(string topic, string message)
        : base(message)
    {
        Topic = topic;
    }

    /// <summary>Gets the topic the request was sent to.</summary>
    public string Topic { get; }
}
