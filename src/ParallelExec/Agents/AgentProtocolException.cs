namespace ParallelExec.Agents;

/// <summary>
/// An agent wrote something that is not its protocol (for a <see cref="ProcessAgent"/>: a stdout line that is not a
/// JSON reply), so the request or requests it was serving cannot be answered.
/// </summary>
/// <remarks>
/// Only the requests in flight on that agent fail; the agent stays in its pool and keeps serving.
/// </remarks>
public sealed class AgentProtocolException : AgentException
{
    /// <summary>Creates the exception.</summary>
    public AgentProtocolException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public AgentProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public AgentProtocolException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the agent it concerns and a message.</summary>
    /// <param name="agentId">The id of the agent that broke the protocol.</param>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public AgentProtocolException(string? agentId, string message, Exception? innerException)
        : base(agentId, message, innerException)
    {
    }
}
