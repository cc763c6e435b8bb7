namespace ParallelExec.Agents;

/// <summary>
/// The base of the errors an agent or an agent pool reports; thrown as is when an agent answers a request with an error.
/// </summary>
/// <remarks>
/// An agent that replies with an error stays healthy and in its pool: only the request fails. The derived types say
/// when the agent itself is at fault: <see cref="AgentSpawnException"/> (it could not start),
/// <see cref="AgentCrashedException"/> (it exited or broke while a request was in flight) and
/// <see cref="AgentProtocolException"/> (it wrote something that is not the protocol).
/// </remarks>
public class AgentException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AgentException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public AgentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public AgentException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the agent it concerns and a message.</summary>
    /// <param name="agentId">The id of the agent the error concerns.</param>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public AgentException(string? agentId, string message, Exception? innerException)
        : base(message, innerException)
    {
        AgentId = agentId;
    }

    /// <summary>Gets the id of the agent the error concerns, when it is known.</summary>
    public string? AgentId { get; }
}
