using Polly;

namespace ParallelExec.Agents;

/// <summary>
/// Configures and builds an <see cref="AgentPool{TAgent}"/>; returned by <see cref="Exec.Agents{TAgent}(IAgentFactory{TAgent})"/>.
/// Every method returns the same builder; the shared ones (name, clock, drain timeout, meter factory,
/// <c>Configure</c>) come from <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}"/>. Single use.
/// </summary>
/// <typeparam name="TAgent">The type of agent the pool holds.</typeparam>
/// <remarks>Values are validated once, by <c>Build()</c>, which lists every invalid one in a single exception.</remarks>
public sealed class AgentPoolBuilder<TAgent> : ComponentBuilder<AgentPoolBuilder<TAgent>, AgentPoolOptions, AgentPool<TAgent>>
    where TAgent : class, IAgent
{
    private readonly IAgentFactory<TAgent> _factory;

    internal AgentPoolBuilder(IAgentFactory<TAgent> factory)
        : base(new AgentPoolOptions())
    {
        _factory = factory;
    }

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

    /// <summary>Sets the wait queue: <see cref="AgentPoolOptions.QueueCapacity"/> and <see cref="AgentPoolOptions.FullMode"/>.</summary>
    /// <param name="capacity">How many requests may wait for an agent.</param>
    /// <param name="fullMode">What happens to a request that finds the queue full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) => Set(o =>
    {
        o.QueueCapacity = capacity;
        o.FullMode = fullMode;
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

    /// <summary>
    /// Sets <see cref="AgentPoolOptions.ResponseResiliencePipeline"/>: a pipeline of responses around each
    /// <c>RunAsync</c> request, for result-based retries and hedging.
    /// </summary>
    /// <param name="pipeline">The Polly pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> WithResilience(ResiliencePipeline<string> pipeline) => Set(o => o.ResponseResiliencePipeline = pipeline);

    /// <summary>Sets <see cref="AgentPoolOptions.OnError"/>: told about every agent whose stop failed.</summary>
    /// <param name="onError">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> OnError(Action<FailedItem> onError) => Set(o => o.OnError = onError);

    /// <summary>Sets <see cref="AgentPoolOptions.OnDropped"/>.</summary>
    /// <param name="onDropped">Told about every dropped request, why and when.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public AgentPoolBuilder<TAgent> OnDropped(Action<DroppedItem> onDropped) => Set(o => o.OnDropped = onDropped);

    /// <summary>Creates the pool; with <see cref="AgentPoolOptions.MinIdle"/> above zero, its refill starts in the background.</summary>
    /// <param name="options">The validated options.</param>
    /// <returns>The pool.</returns>
    protected override AgentPool<TAgent> Create(AgentPoolOptions options) => new(_factory, options);
}
