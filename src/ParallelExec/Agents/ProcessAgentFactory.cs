namespace ParallelExec.Agents;

/// <summary>
/// Creates <see cref="ProcessAgent"/>s: each spawn starts a process from the factory's options and the pool's
/// <see cref="AgentSpec"/> and returns once the process has reported ready.
/// </summary>
public sealed class ProcessAgentFactory : IAgentFactory<ProcessAgent>
{
    private readonly ProcessAgentOptions _options;

    /// <summary>Creates the factory.</summary>
    /// <param name="options">How to start each process; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every invalid value.</exception>
    public ProcessAgentFactory(ProcessAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
    }

    /// <inheritdoc/>
    public async ValueTask<ProcessAgent> CreateAsync(AgentSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        return await ProcessAgent.StartAsync(_options, spec, cancellationToken).ConfigureAwait(false);
    }
}
