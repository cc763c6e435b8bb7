using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <content>
/// The life of an agent after its spawn: removal when it crashed or reports itself unhealthy, recycling after
/// <see cref="AgentPoolOptions.MaxUses"/> or <see cref="AgentPoolOptions.IdleTimeout"/>, and stopping it once no request
/// holds it (recorded, so that the disposal waits for every stop).
/// </content>
public sealed partial class AgentPool<TAgent>
{
    // Guarded by _gate. _retirements are the stops in progress; the crash and recycle metrics are counted under the lock
    // and added to the instruments after it is released (FlushMetrics), since a metric listener is user code.
    private readonly List<Task> _retirements = [];
    private long _crashes;
    private long _recycled;
    private int _pendingCrashMetric;
    private int _pendingRecycleMetric;
    private long _stopFailures;

    private void RemoveLocked(Slot slot, bool crashed)
    {
        if (slot.Removed)
        {
            return;
        }

        slot.Removed = true;
        _agents.Remove(slot);
        _freeCapacity -= _perAgent - slot.InFlight;
        if (slot.InFlight == 0)
        {
            _idle--;
        }
        else
        {
            _busy--;
            _retiringBusy++;
        }

        if (slot.Keys is { } keys)
        {
            foreach (var key in keys)
            {
                _affinity.Remove(key);
            }

            keys.Clear();
        }

        if (crashed)
        {
            _crashes++;
            _pendingCrashMetric++;
        }
        else
        {
            _recycled++;
            _pendingRecycleMetric++;
        }
    }

    private void OnIdleTimer()
    {
        List<(Slot, TaskCompletionSource)>? expired = null;
        int spawns;
        lock (_gate)
        {
            if (_lifecycle.IsDisposing)
            {
                return;
            }

            var now = _time.GetTimestamp();
            for (var i = _agents.Count - 1; i >= 0; i--)
            {
                var slot = _agents[i];
                if (slot.InFlight == 0 && _time.GetElapsedTime(slot.LastReleased, now) >= _options.IdleTimeout)
                {
                    RemoveLocked(slot, crashed: false);
                    slot.Retired = true;
                    (expired ??= []).Add((slot, RegisterRetirementLocked()));
                }
            }

            spawns = PlanSpawnsLocked();
            AssertInvariants();
        }

        FlushMetrics();
        expired?.ForEach(e => _ = RetireAsync(e.Item1.Agent, e.Item2));
        StartSpawns(spawns);
    }

    private void FlushMetrics()
    {
        if ((Volatile.Read(ref _pendingCrashMetric) | Volatile.Read(ref _pendingRecycleMetric)) == 0)
        {
            return;
        }

        int crashes;
        int recycled;
        lock (_gate)
        {
            crashes = _pendingCrashMetric;
            recycled = _pendingRecycleMetric;
            _pendingCrashMetric = 0;
            _pendingRecycleMetric = 0;
        }

        if (crashes > 0)
        {
            _agentInstruments.Crashes.Add(crashes, _reporter.NameTag);
        }

        if (recycled > 0)
        {
            _agentInstruments.Recycled.Add(recycled, _reporter.NameTag);
        }
    }

    /// <summary>
    /// Records, under the lock, that an agent is about to be stopped, so that <see cref="DisposeAsync"/> (which snapshots
    /// the records under the same lock) always waits for it even when the stop itself starts after the lock is released.
    /// </summary>
    private TaskCompletionSource RegisterRetirementLocked()
    {
        var retirement = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _retirements.RemoveAll(static t => t.IsCompleted);
        _retirements.Add(retirement.Task);
        return retirement;
    }

    private async Task RetireAsync(TAgent agent, TaskCompletionSource retirement)
    {
        // Cannot throw: StopAgentAsync reports a failed stop instead of throwing it, so this unobserved task ends cleanly.
        await StopAgentAsync(agent).ConfigureAwait(false);
        retirement.TrySetResult();
    }

    /// <summary>
    /// Stops one agent. A failure to stop it must not stop the others, but it may leave a process behind: it is reported
    /// (statistics, <c>parallelexec.agents.stop.failures</c>, an exception event on the current span and
    /// <see cref="AgentPoolOptions.OnError"/>) instead of being thrown.
    /// </summary>
    private async Task StopAgentAsync(TAgent agent)
    {
        try
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            ReportStopFailure(agent, ex);
        }
    }

    private void ReportStopFailure(TAgent agent, Exception exception)
    {
        string id;
        try
        {
            id = agent.Id;
        }
        catch (Exception)
        {
            id = "?";
        }

        Interlocked.Increment(ref _stopFailures);
        _agentInstruments.StopFailures.Add(1, _reporter.NameTag);
        Telemetry.RecordFailure(Activity.Current, exception);
        if (_options.OnError is { } onError)
        {
            try
            {
                onError(new FailedItem(Name, exception, agent, id, _time.GetUtcNow()));
            }
            catch (Exception callbackFailure)
            {
                // A throwing callback must not take down the disposal or the retirement that reported the failure.
                Telemetry.RecordFailure(Activity.Current, callbackFailure);
            }
        }
    }

    private static bool IsHealthy(TAgent agent)
    {
        try
        {
            return agent.IsHealthy;
        }
        catch (Exception)
        {
            return false;
        }
    }
}
