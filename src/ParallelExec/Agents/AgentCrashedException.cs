namespace ParallelExec.Agents;

/// <summary>
/// An agent exited or broke while a request was in flight, so the request got no reply.
/// </summary>
/// <remarks>
/// The agent is unhealthy from then on: a pool removes it and spawns a replacement. The request fails with this
/// exception unless the pool's resilience pipeline retries it (on another agent).
/// </remarks>
public sealed class AgentCrashedException : AgentException
{
    /// <summary>Creates the exception.</summary>
    public AgentCrashedException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public AgentCrashedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public AgentCrashedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with the agent it concerns, its exit code and a message.</summary>
    /// <param name="agentId">The id of the agent that crashed.</param>
    /// <param name="exitCode">The process exit code, when the agent is a process that has exited.</param>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one, if any.</param>
    public AgentCrashedException(string? agentId, int? exitCode, string message, Exception? innerException)
        : base(agentId, message, innerException)
    {
        ExitCode = exitCode;
    }

    /// <summary>Gets the exit code of the agent's process, when it is known.</summary>
    public int? ExitCode { get; }
}
