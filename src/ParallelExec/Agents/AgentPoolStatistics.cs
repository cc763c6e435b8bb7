namespace ParallelExec.Agents;

/// <summary>
/// A snapshot of an <see cref="AgentPool{TAgent}"/>'s state and counters, taken by
/// <see cref="AgentPool{TAgent}.GetStatistics"/>.
/// </summary>
public sealed class AgentPoolStatistics
{
    internal AgentPoolStatistics()
    {
    }

    /// <summary>Gets the number of live agents (idle or busy).</summary>
    public int Agents { get; internal init; }

    /// <summary>Gets the number of live agents serving no request.</summary>
    public int Idle { get; internal init; }

    /// <summary>Gets the number of live agents serving at least one request.</summary>
    public int Busy { get; internal init; }

    /// <summary>Gets the number of agents being started.</summary>
    public int Spawning { get; internal init; }

    /// <summary>Gets the number of requests being served.</summary>
    public int InFlight { get; internal init; }

    /// <summary>Gets the number of callers waiting for an agent.</summary>
    public int QueueLength { get; internal init; }

    /// <summary>Gets the number of agents started successfully since the pool was built.</summary>
    public long Spawned { get; internal init; }

    /// <summary>Gets the number of agent starts that failed.</summary>
    public long SpawnFailures { get; internal init; }

    /// <summary>Gets the number of agents removed because they crashed or reported themselves unhealthy.</summary>
    public long Crashes { get; internal init; }

    /// <summary>Gets the number of agents recycled after <see cref="AgentPoolOptions.MaxUses"/> or <see cref="AgentPoolOptions.IdleTimeout"/>.</summary>
    public long Recycled { get; internal init; }

    /// <summary>Gets the number of requests that completed successfully.</summary>
    public long Succeeded { get; internal init; }

    /// <summary>Gets the number of requests that failed (the caller got the exception), cancellations excluded.</summary>
    public long Failed { get; internal init; }

    /// <summary>Gets the number of requests cancelled by their caller.</summary>
    public long Cancelled { get; internal init; }

    /// <summary>Gets the number of requests dropped by the wait queue's policy or the dispose deadline.</summary>
    public long Dropped { get; internal init; }
}
