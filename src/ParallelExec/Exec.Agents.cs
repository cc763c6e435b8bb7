using ParallelExec.Agents;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building a pool of agents created by <paramref name="factory"/>: spawned in parallel, lazily or pre-warmed,
    /// load-balanced, health-checked and stopped on dispose.
    /// </summary>
    /// <typeparam name="TAgent">The type of agent.</typeparam>
    /// <param name="factory">Creates the agents.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> is <see langword="null"/>.</exception>
    /// <example>
    /// <code>
    /// await using var pool = Exec.Agents(new ProcessAgentFactory(options)).WithMaxAgents(8).WithMinIdle(2).Build();
    /// string answer = await pool.RunAsync(request);
    /// </code>
    /// </example>
    public static AgentPoolBuilder<TAgent> Agents<TAgent>(IAgentFactory<TAgent> factory)
        where TAgent : class, IAgent
    {
        ArgumentNullException.ThrowIfNull(factory);
        return new AgentPoolBuilder<TAgent>(factory);
    }

    /// <summary>Starts building a pool of <see cref="ProcessAgent"/>s, each a process started from <paramref name="options"/>.</summary>
    /// <param name="options">How to start each agent process; validated and copied.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every invalid value.</exception>
    public static AgentPoolBuilder<ProcessAgent> Agents(ProcessAgentOptions options) =>
        new(new ProcessAgentFactory(options));

    /// <summary>Starts building a pool of in-process agents created by <paramref name="create"/>.</summary>
    /// <typeparam name="TAgent">The type of agent.</typeparam>
    /// <param name="create">Creates and starts an agent from a spec.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="create"/> is <see langword="null"/>.</exception>
    public static AgentPoolBuilder<TAgent> Agents<TAgent>(Func<AgentSpec, CancellationToken, ValueTask<TAgent>> create)
        where TAgent : class, IAgent =>
        new(new DelegateAgentFactory<TAgent>(create));
}
