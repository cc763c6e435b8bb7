using Microsoft.Extensions.Diagnostics.HealthChecks;
using ParallelExec.Agents;
using ParallelExec.Coordination;
using ParallelExec.Hosting.Registration;
using ParallelExec.Net;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Health;

/// <summary>
/// The health of one hosted component, read from its statistics: unhealthy when it no longer accepts work (closed) or
/// when an agent pool has no agent and its spawns keep failing; degraded when its queue is filled past the threshold,
/// when callers wait for room, when an agent spawn failed since the previous check, or when a provider of a gate is
/// paused. <see cref="HealthCheckResult.Data"/> carries the ledger and the component's own figures.
/// </summary>
internal sealed class ComponentHealthCheck(ComponentRuntime runtime, ComponentRegistration registration, double saturation) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        HostedComponent component;
        try
        {
            component = runtime.Get(registration);
        }
        catch (Exception exception)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy($"{registration} could not be built.", exception));
        }

        return Task.FromResult(Check(component));
    }

    private HealthCheckResult Check(HostedComponent component)
    {
        if (component.Lifecycle is not { } lifecycle)
        {
            return HealthCheckResult.Healthy($"{component.Kind} '{component.Name}' holds no work.");
        }

        var statistics = lifecycle.GetStatistics();
        var ledger = statistics.Ledger;
        var data = new Dictionary<string, object>
        {
            ["component"] = component.Kind,
            ["name"] = component.Name,
            ["submitted"] = ledger.Submitted,
            ["succeeded"] = ledger.Succeeded,
            ["failed"] = ledger.Failed,
            ["cancelled"] = ledger.Cancelled,
            ["dropped"] = ledger.Dropped,
            ["rejected"] = ledger.Rejected,
            ["inFlight"] = ledger.InFlight,
            ["queued"] = ledger.Queued,
        };
        if (component.QueueCapacity is { } capacity)
        {
            data["queueCapacity"] = capacity;
        }

        var label = $"{component.Kind} '{component.Name}'";
        if (lifecycle.Completion.IsCompleted)
        {
            return HealthCheckResult.Unhealthy($"{label} is closed: it accepts no more work.", lifecycle.Completion.Exception, data);
        }

        var problems = new List<string>();
        var unhealthy = false;
        if (component.QueueCapacity is { } perQueue && perQueue > 0)
        {
            // A bus's capacity is per subscriber: its ledger counts every mailbox, so the bound is the sum of the mailboxes.
            var queueCapacity = statistics is CoordinationBusStatistics bus ? (long)perQueue * Math.Max(1, bus.Subscriptions) : perQueue;
            if (ledger.Queued >= saturation * queueCapacity)
            {
                problems.Add($"queue saturated ({ledger.Queued} of {queueCapacity})");
            }
        }

        switch (statistics)
        {
            case WorkerPoolStatistics pool when pool.Waiting > 0:
                data["waiting"] = pool.Waiting;
                problems.Add($"{pool.Waiting} callers wait for room in the queue");
                break;
            case AgentPoolStatistics agents:
                data["agents"] = agents.Agents;
                data["idle"] = agents.Idle;
                data["busy"] = agents.Busy;
                data["spawnFailures"] = agents.SpawnFailures;
                data["crashes"] = agents.Crashes;
                if (agents.SpawnFailures > component.SpawnFailuresSeen)
                {
                    unhealthy |= agents.Agents == 0;
                    problems.Add(agents.Agents == 0
                        ? $"unable to spawn an agent ({agents.SpawnFailures - component.SpawnFailuresSeen} spawn failures since the last check, none alive)"
                        : $"{agents.SpawnFailures - component.SpawnFailuresSeen} spawn failures since the last check");
                }

                component.SpawnFailuresSeen = agents.SpawnFailures;
                break;
            case HttpGateStatistics gate:
                data["admitted"] = gate.Admitted;
                data["throttled"] = gate.Throttled;
                foreach (var provider in gate.Providers.Values)
                {
                    if (provider.RemainingPause > TimeSpan.Zero)
                    {
                        data[$"paused.{provider.Provider}"] = provider.RemainingPause.TotalSeconds;
                        problems.Add($"provider '{provider.Provider}' paused for {provider.RemainingPause.TotalSeconds:0.###} s more");
                    }
                }

                break;
        }

        if (problems.Count == 0)
        {
            return HealthCheckResult.Healthy($"{label}: {ledger.Queued} queued, {ledger.InFlight} running.", data);
        }

        var description = $"{label}: {string.Join("; ", problems)}.";
        return unhealthy ? HealthCheckResult.Unhealthy(description, data: data) : HealthCheckResult.Degraded(description, data: data);
    }
}
