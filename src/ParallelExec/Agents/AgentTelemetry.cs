using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <summary>What the observable instruments read from a live pool.</summary>
internal interface IAgentPoolGauges
{
    string Name { get; }

    (int Idle, int Busy, int QueueLength) ReadGauges();
}

/// <summary>
/// The agent pools' instruments, created once from the library's single meter. The gauges observe every live pool
/// through a registry (pools register when built and leave when disposed), tagged with each pool's name.
/// </summary>
internal static class AgentTelemetry
{
    public static readonly Counter<long> Spawned = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.agents.spawned", "{agent}", "Agents started successfully.");

    public static readonly Counter<long> SpawnFailures = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.agents.spawn.failures", "{agent}", "Agent starts that failed.");

    public static readonly Histogram<double> SpawnDuration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.agents.spawn.duration", "s", "Time from the start of a spawn to the agent being ready.");

    public static readonly Counter<long> Crashes = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.agents.crashes", "{agent}", "Agents removed because they crashed or reported themselves unhealthy.");

    public static readonly Counter<long> Recycled = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.agents.recycled", "{agent}", "Agents recycled after their maximum uses or idle timeout.");

    public static readonly Histogram<double> QueueWait = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.agents.queue.wait", "s", "Time a request waited for an agent.");

    public static readonly Counter<long> Dropped = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.agents.dropped", "{request}", "Requests dropped by the wait queue's policy or the dispose deadline.");

    private static readonly object RegistryGate = new();
    private static readonly List<IAgentPoolGauges> Pools = [];

    static AgentTelemetry()
    {
        Telemetry.Meter.CreateObservableUpDownCounter(
            "parallelexec.agents.idle", static () => Observe(static g => g.Idle), "{agent}", "Live agents serving no request.");
        Telemetry.Meter.CreateObservableUpDownCounter(
            "parallelexec.agents.busy", static () => Observe(static g => g.Busy), "{agent}", "Live agents serving at least one request.");
        Telemetry.Meter.CreateObservableUpDownCounter(
            "parallelexec.agents.queue.length", static () => Observe(static g => g.QueueLength), "{request}", "Requests waiting for an agent.");
    }

    public static void Register(IAgentPoolGauges pool)
    {
        lock (RegistryGate)
        {
            Pools.Add(pool);
        }
    }

    public static void Unregister(IAgentPoolGauges pool)
    {
        lock (RegistryGate)
        {
            Pools.Remove(pool);
        }
    }

    public static KeyValuePair<string, object?> NameTag(string name) => new(TelemetryTagNames.Name, name);

    private static List<Measurement<int>> Observe(Func<(int Idle, int Busy, int QueueLength), int> select)
    {
        IAgentPoolGauges[] pools;
        lock (RegistryGate)
        {
            pools = [.. Pools];
        }

        var measurements = new List<Measurement<int>>(pools.Length);
        foreach (var pool in pools)
        {
            measurements.Add(new Measurement<int>(select(pool.ReadGauges()), NameTag(pool.Name)));
        }

        return measurements;
    }
}
