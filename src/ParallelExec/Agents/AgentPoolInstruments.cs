using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <summary>What the agent pools' own gauges read from a live pool (besides the ledger the standard instruments read).</summary>
internal interface IAgentPoolGauges : IInstrumentedComponent
{
    /// <summary>Reads the number of idle and busy agents; takes the pool's lock briefly.</summary>
    /// <returns>The counts now.</returns>
    (int Idle, int Busy) ReadAgents();
}

/// <summary>
/// The agent pools' own instruments, beside the standard ones of <see cref="ComponentInstruments"/> (component
/// <c>agents</c>): spawns, spawn failures and duration, crashes, recycling, and the idle and busy agents.
/// </summary>
/// <remarks>
/// One set per meter, through <see cref="ComponentInstruments.GetExtra{T}"/>. The gauges read the same weak registry as
/// the standard <c>queue.length</c> and <c>in_flight</c> (<see cref="ComponentInstruments.Live"/>), which only agent
/// pools join, so an undisposed pool can still be collected.
/// </remarks>
internal sealed class AgentPoolInstruments
{
    /// <summary>The component segment of the instrument names.</summary>
    public const string Component = "agents";

    private AgentPoolInstruments(ComponentInstruments standard)
    {
        var meter = standard.Meter;
        Spawned = meter.CreateCounter<long>("parallelexec.agents.spawned", "{agent}", "Agents started successfully.");
        SpawnFailures = meter.CreateCounter<long>("parallelexec.agents.spawn.failures", "{agent}", "Agent starts that failed.");
        SpawnDuration = ComponentInstruments.CreateSecondsHistogram(
            meter, "parallelexec.agents.spawn.duration", "Time from the start of a spawn to the agent being ready.");
        Crashes = meter.CreateCounter<long>("parallelexec.agents.crashes", "{agent}", "Agents removed because they crashed or reported themselves unhealthy.");
        Recycled = meter.CreateCounter<long>("parallelexec.agents.recycled", "{agent}", "Agents recycled after their maximum uses or idle timeout.");
        StopFailures = meter.CreateCounter<long>("parallelexec.agents.stop.failures", "{agent}", "Agents whose stop failed: a process may have been left running.");
        var live = standard.Live;
        meter.CreateObservableUpDownCounter(
            "parallelexec.agents.idle", () => live.Observe(static p => ((IAgentPoolGauges)p).ReadAgents().Idle, static p => p.NameTag),
            "{agent}", "Live agents serving no request.");
        meter.CreateObservableUpDownCounter(
            "parallelexec.agents.busy", () => live.Observe(static p => ((IAgentPoolGauges)p).ReadAgents().Busy, static p => p.NameTag),
            "{agent}", "Live agents serving at least one request.");
    }

    /// <summary>Gets <c>parallelexec.agents.spawned</c>.</summary>
    public Counter<long> Spawned { get; }

    /// <summary>Gets <c>parallelexec.agents.spawn.failures</c>.</summary>
    public Counter<long> SpawnFailures { get; }

    /// <summary>Gets <c>parallelexec.agents.spawn.duration</c>, in seconds.</summary>
    public Histogram<double> SpawnDuration { get; }

    /// <summary>Gets <c>parallelexec.agents.crashes</c>.</summary>
    public Counter<long> Crashes { get; }

    /// <summary>Gets <c>parallelexec.agents.recycled</c>.</summary>
    public Counter<long> Recycled { get; }

    /// <summary>Gets <c>parallelexec.agents.stop.failures</c>.</summary>
    public Counter<long> StopFailures { get; }

    /// <summary>Gets the agent pools' instruments on the meter of <paramref name="standard"/>.</summary>
    /// <param name="standard">The standard <c>agents</c> instruments of that meter.</param>
    /// <returns>The cached set.</returns>
    public static AgentPoolInstruments Get(ComponentInstruments standard) =>
        standard.GetExtra(nameof(AgentPoolInstruments), _ => new AgentPoolInstruments(standard));
}
