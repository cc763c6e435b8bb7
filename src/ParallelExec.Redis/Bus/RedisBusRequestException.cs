namespace ParallelExec.Redis;

/// <summary>A request sent with <see cref="RedisBusBridge.RequestAsync{TRequest, TReply}"/> failed in the process that served it.</summary>
public sealed class RedisBusRequestException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="RedisBusRequestException"/> class.</summary>
    /// <param name="topic">The request's topic.</param>
    /// <param name="remoteExceptionType">The name of the exception type the serving process caught.</param>
    /// <param name="remoteMessage">Its message.</param>
    public RedisBusRequestException(string topic, string remoteExceptionType, string remoteMessage)
        : base($"The request on topic '{topic}' failed in the process that served it: {remoteExceptionType}: {remoteMessage}")
    {
        Topic = topic;
        RemoteExceptionType = remoteExceptionType;
    }

    /// <summary>Gets the request's topic.</summary>
    public string Topic { get; }

    /// <summary>Gets the name of the exception type the serving process caught.</summary>
    public string RemoteExceptionType { get; }
}
