namespace ParallelExec.Agents;

/// <summary>
/// An agent could not be started: its executable is missing, it exited before it reported ready, it did not report ready
/// in time, or its factory threw.
/// </summary>
/// <remarks>
/// A pool hands this exception to the oldest caller waiting for an agent (and to <c>WarmUpAsync</c>); the pool itself
/// keeps working and spawns again on the next demand.
/// </remarks>
public sealed class AgentSpawnException : AgentException
{
    /// <summary>Creates the exception.</summary>
    public AgentSpawnException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public AgentSpawnException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public AgentSpawnException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the agent it concerns and a message.</summary>
    /// <param name="agentId">The id (or name) of the agent that could not start.</param>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public AgentSpawnException(string? agentId, string message, Exception? innerException)
        : base(agentId, message, innerException)
    {
    }
}
