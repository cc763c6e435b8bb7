using Polly;

namespace ParallelExec.Agents;

/// <summary>
/// Options of an <see cref="AgentPool{TAgent}"/>. Validated once when the pool is built (one
/// <see cref="ArgumentException"/> lists every invalid value) and copied, so later changes do not affect the pool.
/// </summary>
/// <remarks>
/// The shared members (<see cref="ComponentOptions.Name"/>, <see cref="ComponentOptions.TimeProvider"/>,
/// <see cref="ComponentOptions.DrainTimeout"/>, <see cref="ComponentOptions.MeterFactory"/>) come from
/// <see cref="ComponentOptions"/>. The pool's bound is <see cref="MaxAgents"/>, not a degree of parallelism: agents are
/// processes, so their count is a resource bound; the requests one agent serves at once are
/// <see cref="MaxConcurrencyPerAgent"/>.
/// </remarks>
public sealed class AgentPoolOptions : ComponentOptions
{
    /// <summary>Gets or sets the template every spawned agent is created from (kind, name prefix, arguments).</summary>
    /// <value>Defaults to a spec of kind <c>"agent"</c> named <c>"agent"</c> with no arguments.</value>
    public AgentSpec Spec { get; set; } = new();

    /// <summary>Gets or sets the most agents the pool keeps alive at once (spawning ones included).</summary>
    /// <value>Defaults to 4.</value>
    public int MaxAgents { get; set; } = 4;

    /// <summary>
    /// Gets or sets how many idle agents the pool keeps ready. Below it, a background refill spawns agents without
    /// blocking any caller; the refill starts when the pool is built. Zero means agents are only spawned on demand.
    /// </summary>
    /// <value>Defaults to 0 (lazy: the first request spawns the first agent).</value>
    public int MinIdle { get; set; }

    /// <summary>Gets or sets how many agents may be starting at the same time.</summary>
    /// <value>Defaults to 4.</value>
    public int MaxConcurrentSpawns { get; set; } = 4;

    /// <summary>Gets or sets how many requests one agent serves at the same time.</summary>
    /// <value>Defaults to 1.</value>
    public int MaxConcurrencyPerAgent { get; set; } = 1;

    /// <summary>Gets or sets how many requests may wait for an agent when every agent is busy.</summary>
    /// <value>Defaults to 1024.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what happens to a request that finds the wait queue full.</summary>
    /// <value>Defaults to <see cref="QueueFullMode.Wait"/>: the caller waits for room.</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>Gets or sets how a request without an affinity key picks its agent.</summary>
    /// <value>Defaults to <see cref="LoadBalancingStrategy.LeastBusy"/>.</value>
    public LoadBalancingStrategy LoadBalancing { get; set; } = LoadBalancingStrategy.LeastBusy;

    /// <summary>Gets or sets how many distinct affinity keys the pool remembers; beyond it, an old binding is forgotten.</summary>
    /// <value>Defaults to 10000.</value>
    public int MaxAffinityKeys { get; set; } = 10_000;

    /// <summary>Gets or sets after how many requests an agent is recycled (stopped and, if needed, replaced); 0 for never.</summary>
    /// <value>Defaults to 0 (never).</value>
    public int MaxUses { get; set; }

    /// <summary>
    /// Gets or sets how long an agent may stay idle before it is recycled (stopped, and replaced while the pool is below
    /// <see cref="MinIdle"/>); <see cref="Timeout.InfiniteTimeSpan"/> for never.
    /// </summary>
    /// <value>Defaults to <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets an optional loader of the context shared by every agent. The pool calls it once, before its first
    /// spawn (again only if it failed), and hands the result to every agent in <see cref="AgentSpec.SharedContext"/>.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>: agents get <see cref="Spec"/>'s <see cref="AgentSpec.SharedContext"/>.</value>
    public Func<CancellationToken, ValueTask<object?>>? SharedContextFactory { get; set; }

    /// <summary>
    /// Gets or sets an optional Polly pipeline every request runs through (retry, timeout, circuit breaker). Each attempt
    /// acquires an agent anew, so a retry after <see cref="AgentCrashedException"/> runs on a healthy agent.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (no resilience: a failed request fails its caller).</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets an optional Polly pipeline of responses that <see cref="AgentPool{TAgent}.RunAsync"/> and
    /// <see cref="AgentPool{TAgent}.RunWithAffinityAsync"/> run through instead of <see cref="ResiliencePipeline"/>, so that
    /// result-based strategies (retry on a response, hedging) plug in. Each attempt acquires an agent anew.
    /// <see cref="AgentPool{TAgent}.ExecuteAsync{TResult}(Func{TAgent, CancellationToken, ValueTask{TResult}}, ResiliencePipeline{TResult}, string?, CancellationToken)"/>
    /// takes a pipeline of its own result type per call.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>: <see cref="ResiliencePipeline"/> applies.</value>
    public ResiliencePipeline<string>? ResponseResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets a callback told about failures no caller sees: an agent whose stop (its
    /// <see cref="IAsyncDisposable.DisposeAsync"/>, when it is recycled, removed after a crash or stopped by the pool's
    /// disposal) threw, which may have left a process running. <see cref="FailedItem.Item"/> is the agent and
    /// <see cref="FailedItem.Key"/> its <see cref="IAgent.Id"/>. Each such failure is also counted in
    /// <see cref="AgentPoolStatistics.StopFailures"/> and <c>parallelexec.agents.stop.failures</c> and recorded as an
    /// exception event on the current span. A request's own failure goes to its caller, not here.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>.</value>
    public Action<FailedItem>? OnError { get; set; }

    /// <summary>
    /// Gets or sets a callback told about every request that did not run to an outcome of its own: refused or evicted by
    /// the wait queue's <see cref="FullMode"/>, or cut by the <see cref="ComponentOptions.DrainTimeout"/> of
    /// <see cref="AgentPool{TAgent}.DisposeAsync"/>. <see cref="DroppedItem.Item"/> is the request string (for
    /// <see cref="AgentPool{TAgent}.RunAsync"/> and <see cref="AgentPool{TAgent}.RunWithAffinityAsync"/>) or the operation
    /// delegate (for <see cref="AgentPool{TAgent}.ExecuteAsync{TResult}(Func{TAgent, CancellationToken, ValueTask{TResult}}, string?, CancellationToken)"/>); <see cref="DroppedItem.Key"/> is the affinity
    /// key. The dropped caller also gets <see cref="ItemDroppedException"/> (or, for a running request cut by the drain
    /// timeout, the <see cref="OperationCanceledException"/> its agent throws).
    /// </summary>
    /// <value>Defaults to <see langword="null"/>.</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "AgentPool";

    internal AgentPoolOptions Clone() => (AgentPoolOptions)MemberwiseClone();

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequireNotNull(Spec, nameof(Spec))
            .RequirePositive(MaxAgents, nameof(MaxAgents))
            .Require(MinIdle >= 0 && MinIdle <= MaxAgents, nameof(MinIdle), MinIdle, "must be between 0 and MaxAgents")
            .RequirePositive(MaxConcurrentSpawns, nameof(MaxConcurrentSpawns))
            .RequirePositive(MaxConcurrencyPerAgent, nameof(MaxConcurrencyPerAgent))
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .RequireDefined(LoadBalancing, nameof(LoadBalancing))
            .RequirePositive(MaxAffinityKeys, nameof(MaxAffinityKeys))
            .Require(MaxUses >= 0, nameof(MaxUses), MaxUses, "must be zero (never) or greater")
            .RequirePositiveOrInfinite(IdleTimeout, nameof(IdleTimeout))
            // The idle timeout is a timer; the spec's kind and name tag every span and name every agent.
            .RequireTimerRange(IdleTimeout, nameof(IdleTimeout))
            .Require(Spec is null || !string.IsNullOrWhiteSpace(Spec.Kind), "Spec.Kind", Spec?.Kind, "must not be empty or white space")
            .Require(Spec is null || !string.IsNullOrWhiteSpace(Spec.Name), "Spec.Name", Spec?.Name, "must not be empty or white space")
            .Require(Spec is null || Spec.Arguments is not null, "Spec.Arguments", Spec?.Arguments, "must not be null");
    }
}
