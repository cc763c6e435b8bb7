namespace ParallelExec.Agents;

/// <summary>
/// An agent factory that is a delegate, for in-process agents (for example <see cref="DelegateAgent"/>s) or any agent
/// type whose creation is a function.
/// </summary>
/// <typeparam name="TAgent">The type of agent it creates.</typeparam>
public sealed class DelegateAgentFactory<TAgent> : IAgentFactory<TAgent>
    where TAgent : class, IAgent
{
    private readonly Func<AgentSpec, CancellationToken, ValueTask<TAgent>> _create;

    /// <summary>Creates the factory.</summary>
    /// <param name="create">Creates and starts an agent from a spec; called concurrently by a pool.</param>
    /// <exception cref="ArgumentNullException"><paramref name="create"/> is <see langword="null"/>.</exception>
    public DelegateAgentFactory(Func<AgentSpec, CancellationToken, ValueTask<TAgent>> create)
    {
        ArgumentNullException.ThrowIfNull(create);
        _create = create;
    }

    /// <inheritdoc/>
    public ValueTask<TAgent> CreateAsync(AgentSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TAgent>(cancellationToken);
        }

        return _create(spec, cancellationToken);
    }
}
