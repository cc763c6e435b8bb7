using Polly;

namespace ParallelExec.Agents;

/// <summary>
/// Configures and builds an <see cref="AgentPool{TAgent}"/>; returned by <see cref="Exec.Agents{TAgent}(IAgentFactory{TAgent})"/>.
/// Every method returns the same builder. Single use: once <see cref="Build"/> has run, every method throws
/// <see cref="InvalidOperationException"/>.
/// </summary>
/// <typeparam name="TAgent">The type of agent the pool holds.</typeparam>
/// <remarks>Values are validated once, by <see cref="Build"/>, which lists every invalid one in a single exception.</remarks>
public sealed class AgentPoolBuilder<TAgent>
    where TAgent : class, IAgent
{
    private readonly IAgentFactory<TAgent> _factory;
    private readonly AgentPoolOptions _options = new();
    private bool _built;

    internal AgentPoolBuilder(IAgentFactory<TAgent> factory)
    {
        _factory = factory;
    }

    /// <summary>Sets <see cref="AgentPoolOptions.Name"/>.</summary>
    /// <param name="name">The pool's name.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithName(string name) => Set(o => o.Name = name);

    /// <summary>Sets <see cref="AgentPoolOptions.Spec"/>, the template of every spawned agent.</summary>
    /// <param name="spec">The template.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithSpec(AgentSpec spec) => Set(o => o.Spec = spec);

    /// <summary>Sets <see cref="AgentPoolOptions.MaxAgents"/>.</summary>
    /// <param name="maxAgents">The most agents alive at once.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithMaxAgents(int maxAgents) => Set(o => o.MaxAgents = maxAgents);

    /// <summary>Sets <see cref="AgentPoolOptions.MinIdle"/>: how many idle agents a background refill keeps ready.</summary>
    /// <param name="minIdle">The number of idle agents to keep ready.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithMinIdle(int minIdle) => Set(o => o.MinIdle = minIdle);

    /// <summary>Sets <see cref="AgentPoolOptions.MaxConcurrentSpawns"/>.</summary>
    /// <param name="maxConcurrentSpawns">How many agents may start at the same time.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithMaxConcurrentSpawns(int maxConcurrentSpawns) => Set(o => o.MaxConcurrentSpawns = maxConcurrentSpawns);

    /// <summary>Sets <see cref="AgentPoolOptions.MaxConcurrencyPerAgent"/>.</summary>
    /// <param name="maxConcurrency">How many requests one agent serves at the same time.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithMaxConcurrencyPerAgent(int maxConcurrency) => Set(o => o.MaxConcurrencyPerAgent = maxConcurrency);

    /// <summary>Sets the wait queue: <see cref="AgentPoolOptions.QueueCapacity"/> and <see cref="AgentPoolOptions.QueueFullMode"/>.</summary>
    /// <param name="capacity">How many callers may wait for an agent.</param>
    /// <param name="fullMode">What happens to a caller that finds the queue full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) => Set(o =>
    {
        o.QueueCapacity = capacity;
        o.QueueFullMode = fullMode;
    });

    /// <summary>Sets <see cref="AgentPoolOptions.LoadBalancing"/>.</summary>
    /// <param name="strategy">How a request without an affinity key picks its agent.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithLoadBalancing(LoadBalancingStrategy strategy) => Set(o => o.LoadBalancing = strategy);

    /// <summary>Sets <see cref="AgentPoolOptions.MaxUses"/>: recycle an agent after this many requests.</summary>
    /// <param name="maxUses">The number of requests; 0 for never.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithMaxUses(int maxUses) => Set(o => o.MaxUses = maxUses);

    /// <summary>Sets <see cref="AgentPoolOptions.IdleTimeout"/>: recycle an agent idle this long.</summary>
    /// <param name="idleTimeout">The idle time; <see cref="Timeout.InfiniteTimeSpan"/> for never.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithIdleTimeout(TimeSpan idleTimeout) => Set(o => o.IdleTimeout = idleTimeout);

    /// <summary>Sets <see cref="AgentPoolOptions.DisposeTimeout"/>.</summary>
    /// <param name="disposeTimeout">How long disposal lets queued and running requests finish.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithDisposeTimeout(TimeSpan disposeTimeout) => Set(o => o.DisposeTimeout = disposeTimeout);

    /// <summary>Sets <see cref="AgentPoolOptions.SharedContextFactory"/>: the context loaded once and handed to every agent.</summary>
    /// <param name="load">Loads the shared context.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithSharedContext(Func<CancellationToken, ValueTask<object?>> load) => Set(o => o.SharedContextFactory = load);

    /// <summary>Sets <see cref="AgentPoolOptions.ResiliencePipeline"/>: retry, timeout or circuit breaking around each request.</summary>
    /// <param name="pipeline">The Polly pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithResilience(ResiliencePipeline pipeline) => Set(o => o.ResiliencePipeline = pipeline);

    /// <summary>Sets <see cref="AgentPoolOptions.TimeProvider"/>.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithTimeProvider(TimeProvider timeProvider) => Set(o => o.TimeProvider = timeProvider);

    /// <summary>Sets <see cref="AgentPoolOptions.OnDropped"/>.</summary>
    /// <param name="onDropped">Told about every dropped request and why.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> OnDropped(Action<string?, DropReason> onDropped) => Set(o => o.OnDropped = onDropped);

    /// <summary>Validates the configuration and builds the pool; with <see cref="AgentPoolOptions.MinIdle"/> above zero, its refill starts in the background.</summary>
    /// <returns>The pool.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    /// <exception cref="ArgumentException">One or more values are invalid; the message lists every one.</exception>
    public AgentPool<TAgent> Build()
    {
        ThrowIfBuilt();
        _built = true;
        return new AgentPool<TAgent>(_factory, _options);
    }

    private AgentPoolBuilder<TAgent> Set(Action<AgentPoolOptions> apply)
    {
        ThrowIfBuilt();
        apply(_options);
        return this;
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This agent pool builder has already built its pool; a builder is single use, start a new one with Exec.Agents(...).");
        }
    }
}
