using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Agents;

/// <summary>
/// Options of an <see cref="AgentPool{TAgent}"/>. Validated once when the pool is built (one
/// <see cref="ArgumentException"/> lists every invalid value) and copied, so later changes do not affect the pool.
/// </summary>
public sealed class AgentPoolOptions
{
    /// <summary>Gets or sets the pool's name, used as the <see cref="TelemetryTagNames.Name"/> tag of its metrics.</summary>
    /// <value>Defaults to <c>"agents"</c>.</value>
    public string Name { get; set; } = "agents";

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

    /// <summary>Gets or sets how many callers may wait for an agent when every agent is busy.</summary>
    /// <value>Defaults to 1024.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what happens to a caller that finds the wait queue full.</summary>
    /// <value>Defaults to <see cref="QueueFullMode.Wait"/>: the caller waits for room.</value>
    public QueueFullMode QueueFullMode { get; set; } = QueueFullMode.Wait;

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
    /// Gets or sets how long <see cref="AgentPool{TAgent}.DisposeAsync"/> lets queued and in-flight requests finish before
    /// it drops the queued ones (<see cref="DropReason.DrainTimeout"/>) and cancels the running ones;
    /// <see cref="Timeout.InfiniteTimeSpan"/> to wait for all of them.
    /// </summary>
    /// <value>Defaults to <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan DisposeTimeout { get; set; } = Timeout.InfiniteTimeSpan;

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
    /// Gets or sets a callback told about every request dropped by the wait queue's <see cref="QueueFullMode"/> or by the
    /// dispose deadline, with its request (<see langword="null"/> for <see cref="AgentPool{TAgent}.ExecuteAsync{TResult}"/>)
    /// and the reason. The dropped caller also gets <see cref="ItemDroppedException"/>.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>.</value>
    public Action<string?, DropReason>? OnDropped { get; set; }

    /// <summary>Gets or sets the clock of idle timeouts, queue-wait and spawn-duration measurements and the dispose deadline.</summary>
    /// <value>Defaults to <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal AgentPoolOptions Clone() => (AgentPoolOptions)MemberwiseClone();

    internal void Validate()
    {
        var validator = new OptionsValidator(nameof(AgentPoolOptions));
        validator
            .RequireNotNull(Name, nameof(Name))
            .RequireNotNull(Spec, nameof(Spec))
            .RequirePositive(MaxAgents, nameof(MaxAgents))
            .Require(MinIdle >= 0 && MinIdle <= MaxAgents, nameof(MinIdle), MinIdle, "must be between 0 and MaxAgents")
            .RequirePositive(MaxConcurrentSpawns, nameof(MaxConcurrentSpawns))
            .RequirePositive(MaxConcurrencyPerAgent, nameof(MaxConcurrencyPerAgent))
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(QueueFullMode, nameof(QueueFullMode))
            .RequireDefined(LoadBalancing, nameof(LoadBalancing))
            .RequirePositive(MaxAffinityKeys, nameof(MaxAffinityKeys))
            .Require(MaxUses >= 0, nameof(MaxUses), MaxUses, "must be zero (never) or greater")
            .RequirePositiveOrInfinite(IdleTimeout, nameof(IdleTimeout))
            .RequirePositiveOrInfinite(DisposeTimeout, nameof(DisposeTimeout))
            .RequireNotNull(TimeProvider, nameof(TimeProvider))
            .ThrowIfInvalid();
    }
}
