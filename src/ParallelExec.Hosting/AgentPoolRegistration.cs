using ParallelExec.Agents;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting;

/// <summary>Registers <see cref="AgentPool{TAgent}"/>s with the host.</summary>
public static class AgentPoolRegistration
{
    /// <summary>
    /// Registers a pool of agents made by a factory from the application's services, unkeyed or keyed by
    /// <paramref name="name"/>, bound from <c>ParallelExec:AgentPool:&lt;name&gt;</c> (<c>MaxAgents</c>, <c>MinIdle</c>,
    /// <c>QueueCapacity</c>, ...). The health check reports it unhealthy while it cannot spawn an agent.
    /// </summary>
    /// <typeparam name="TAgent">The type of agent.</typeparam>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The pool's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="factory">Returns the agent factory, called once when the pool is built.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="factory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a pool of this agent type and name is already registered.</exception>
    public static IParallelExecBuilder AddAgentPool<TAgent>(
        this IParallelExecBuilder builder,
        string? name,
        Func<IServiceProvider, IAgentFactory<TAgent>> factory,
        Action<IServiceProvider, AgentPoolBuilder<TAgent>>? configure = null)
        where TAgent : class, IAgent
    {
        ArgumentNullException.ThrowIfNull(factory);
        RegistrationHelper.Add<AgentPool<TAgent>>(builder, "AgentPool", name, (services, registration) =>
            ComponentFactory.Build<AgentPoolBuilder<TAgent>, AgentPoolOptions, AgentPool<TAgent>>(
                services, registration, Exec.Agents(factory(services)), configure, Slots));
        return builder;
    }

    private static readonly CallbackSlots<AgentPoolOptions> Slots = new()
    {
        Dropped = (o => o.OnDropped, (o, c) => o.OnDropped = c),
        QueueCapacity = o => o.QueueCapacity,
    };
}
