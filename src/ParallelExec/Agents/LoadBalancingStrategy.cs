namespace ParallelExec.Agents;

/// <summary>
/// How an <see cref="AgentPool{TAgent}"/> picks an agent with free capacity for a request that has no affinity key.
/// </summary>
/// <remarks>
/// A request with an affinity key (<see cref="AgentPool{TAgent}.RunWithAffinityAsync"/>) always goes to the agent its
/// key is bound to while that agent lives, whatever the strategy; the strategy picks the agent a new key binds to.
/// </remarks>
public enum LoadBalancingStrategy
{
    /// <summary>The agent with the fewest requests in flight; ties go to the agent that has served the fewest requests.</summary>
    LeastBusy = 0,

    /// <summary>The agents in turn, skipping those without free capacity.</summary>
    RoundRobin = 1,

    /// <summary>Two agents drawn at random, the less busy of the two: near least-busy balance without scanning every agent.</summary>
    PowerOfTwoChoices = 2,
}
