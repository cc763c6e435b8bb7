namespace ParallelExec.Agents;

/// <summary>
/// Creates agents for an <see cref="AgentPool{TAgent}"/>. The pool calls it concurrently (up to
/// <see cref="AgentPoolOptions.MaxConcurrentSpawns"/> at a time), so an implementation must be thread-safe.
/// </summary>
/// <typeparam name="TAgent">The type of agent it creates.</typeparam>
public interface IAgentFactory<TAgent>
    where TAgent : class, IAgent
{
    /// <summary>
    /// Creates and starts an agent, returning when it is ready to serve (for a process: after its readiness handshake).
    /// </summary>
    /// <param name="spec">What to create: kind, name, arguments and the pool's shared context.</param>
    /// <param name="cancellationToken">Cancels the start-up (the pool cancels it when it is disposed).</param>
    /// <returns>The ready agent.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="spec"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="AgentSpawnException">The agent could not be started.</exception>
    ValueTask<TAgent> CreateAsync(AgentSpec spec, CancellationToken cancellationToken = default);
}
