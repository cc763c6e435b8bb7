namespace ParallelExec.Agents;

/// <summary>
/// An agent: something that takes a request and returns a response, such as a model process, a worker program or an
/// in-process handler. An <see cref="AgentPool{TAgent}"/> spawns, balances, health-checks and stops agents.
/// </summary>
/// <remarks>
/// Requests and responses are strings (typically JSON or a prompt) so that any agent fits one pool type. An
/// implementation may serve several requests at once; the pool sends at most
/// <see cref="AgentPoolOptions.MaxConcurrencyPerAgent"/> to one agent.
/// </remarks>
public interface IAgent : IAsyncDisposable
{
    /// <summary>Gets the agent's id, unique within its pool.</summary>
    string Id { get; }

    /// <summary>
    /// Gets a value indicating whether the agent can serve requests. A pool removes and replaces an agent that reports
    /// <see langword="false"/>, and checks this before and after every request.
    /// </summary>
    bool IsHealthy { get; }

    /// <summary>Sends a request to the agent and returns its response.</summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the request (the agent may still finish it; its reply is ignored).</param>
    /// <returns>The agent's response.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The agent has been disposed.</exception>
    /// <exception cref="AgentCrashedException">The agent exited or broke before it replied.</exception>
    /// <exception cref="AgentException">The agent replied with an error.</exception>
    ValueTask<string> SendAsync(string request, CancellationToken cancellationToken = default);
}
