namespace ParallelExec.Agents;

/// <summary>
/// A snapshot of an <see cref="AgentPool{TAgent}"/>, taken by <see cref="AgentPool{TAgent}.GetStatistics"/>: the ledger
/// of its requests (<see cref="ComponentStatistics.Ledger"/>) and the state of its agents.
/// </summary>
/// <remarks>
/// The ledger counts requests: <see cref="LedgerSnapshot.Queued"/> are waiting for an agent (or for room in the wait
/// queue), <see cref="LedgerSnapshot.InFlight"/> have been admitted and are being served (or are between the attempts
/// of a resilience pipeline).
/// </remarks>
public sealed class AgentPoolStatistics : ComponentStatistics
{
    internal AgentPoolStatistics(string name, LedgerSnapshot ledger)
        : base(name, ledger)
    {
    }

    /// <summary>Gets the number of live agents (idle or busy).</summary>
    public int Agents { get; internal init; }

    /// <summary>Gets the number of live agents serving no request.</summary>
    public int Idle { get; internal init; }

    /// <summary>Gets the number of live agents serving at least one request.</summary>
    public int Busy { get; internal init; }

    /// <summary>Gets the number of agents being started (or waiting for a spawn slot, see <see cref="AgentPoolOptions.MaxConcurrentSpawns"/>).</summary>
    public int Spawning { get; internal init; }

    /// <summary>Gets the number of agents started successfully since the pool was built.</summary>
    public long Spawned { get; internal init; }

    /// <summary>Gets the number of agent starts that failed.</summary>
    public long SpawnFailures { get; internal init; }

    /// <summary>Gets the number of agents removed because they crashed or reported themselves unhealthy.</summary>
    public long Crashes { get; internal init; }

    /// <summary>Gets the number of agents recycled after <see cref="AgentPoolOptions.MaxUses"/> or <see cref="AgentPoolOptions.IdleTimeout"/>.</summary>
    public long Recycled { get; internal init; }

    /// <summary>Gets the number of agents whose stop failed (each also reported to <see cref="AgentPoolOptions.OnError"/>).</summary>
    public long StopFailures { get; internal init; }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{base.ToString()}, Agents = {Agents} (Idle = {Idle}, Busy = {Busy}), Spawning = {Spawning}, Spawned = {Spawned}, SpawnFailures = {SpawnFailures}, Crashes = {Crashes}, Recycled = {Recycled}, StopFailures = {StopFailures}";
}
