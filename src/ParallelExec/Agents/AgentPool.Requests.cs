using System.Diagnostics;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Agents;

/// <content>
/// A request from call to end: admission and the wait for an agent (<see cref="AcquireAsync"/>), the operation on the
/// agent, the release of the agent, and the request's one entry in the ledger, span and metrics.
/// </content>
public sealed partial class AgentPool<TAgent>
{
    /// <summary>How a request ended, as the ledger and the reporter see it.</summary>
    private enum RequestOutcome
    {
        /// <summary>Not ended: an attempt of a resilience pipeline released its agent, the request goes on.</summary>
        Running,
        Succeeded,
        Failed,
        Cancelled,

        /// <summary>Running when the drain timeout of the disposal passed, and cancelled by it: dropped.</summary>
        CutByDrain,
    }

    private ValueTask<TResult> RunCoreAsync<TState, TResult>(
        Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation,
        TState state,
        string? affinityKey,
        object item,
        ResiliencePipeline<TResult>? typedPipeline,
        CancellationToken cancellationToken) =>
        typedPipeline is null && _pipeline is null
            ? RunOnceAsync(operation, state, affinityKey, item, cancellationToken)
            : RunPipelinedAsync(new PipelinedRequest<TState, TResult>(this, operation, state, affinityKey, item), typedPipeline, cancellationToken);

    /// <summary>A request without a resilience pipeline: one acquisition, one operation, one end.</summary>
    private async ValueTask<TResult> RunOnceAsync<TState, TResult>(
        Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation,
        TState state,
        string? affinityKey,
        object item,
        CancellationToken cancellationToken)
    {
        using var span = StartRequestSpan();
        Slot slot;
        try
        {
            slot = await AcquireHealthyAsync(affinityKey, item, admitted: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Dropped, cancelled or refused requests are settled in the ledger by the acquisition itself.
            if (LeftInFlight(ex))
            {
                EndRequest(RequestOutcome.Failed, item, affinityKey, runStarted: 0);
            }

            Telemetry.RecordFailure(span, ex);
            throw;
        }

        var runStarted = _instruments.RunDuration.Enabled ? _time.GetTimestamp() : 0;
        try
        {
            var result = await InvokeAsync(slot, operation, state, cancellationToken).ConfigureAwait(false);
            Release(slot, IsHealthy(slot.Agent), RequestOutcome.Succeeded);
            RecordEnd(RequestOutcome.Succeeded, item, affinityKey, runStarted);
            return result;
        }
        catch (Exception ex)
        {
            var outcome = Classify(ex, cancellationToken);
            Release(slot, ex is not AgentCrashedException && IsHealthy(slot.Agent), outcome);
            RecordEnd(outcome, item, affinityKey, runStarted);
            Telemetry.RecordFailure(span, ex);
            throw;
        }
    }

    /// <summary>
    /// A request through a resilience pipeline (the typed one when given, else the pool's): each attempt acquires an
    /// agent anew; the request ends once.
    /// </summary>
    private async ValueTask<TResult> RunPipelinedAsync<TState, TResult>(
        PipelinedRequest<TState, TResult> request, ResiliencePipeline<TResult>? typedPipeline, CancellationToken cancellationToken)
    {
        using var span = StartRequestSpan();
        try
        {
            var result = typedPipeline is not null
                ? await typedPipeline.ExecuteAsync(static (r, token) => r.Pool.RunAttemptAsync(r, token), request, cancellationToken).ConfigureAwait(false)
                : await _pipeline!.ExecuteAsync(static (r, token) => r.Pool.RunAttemptAsync(r, token), request, cancellationToken).ConfigureAwait(false);
            EndPipelined(request, RequestOutcome.Succeeded);
            return result;
        }
        catch (Exception ex)
        {
            EndPipelined(request, Classify(ex, cancellationToken));
            Telemetry.RecordFailure(span, ex);
            throw;
        }
    }

    private async ValueTask<TResult> RunAttemptAsync<TState, TResult>(PipelinedRequest<TState, TResult> request, CancellationToken cancellationToken)
    {
        Slot slot;
        try
        {
            slot = await AcquireHealthyAsync(request.AffinityKey, request.Item, request.InFlight, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Dropped or cancelled: settled, and a retry admits it anew. Refused at a closed pool: never admitted.
            request.InFlight = LeftInFlight(ex);
            throw;
        }

        request.InFlight = true;
        if (request.RunStarted == 0 && _instruments.RunDuration.Enabled)
        {
            request.RunStarted = _time.GetTimestamp();
        }

        try
        {
            var result = await InvokeAsync(slot, request.Operation, request.State, cancellationToken).ConfigureAwait(false);
            Release(slot, IsHealthy(slot.Agent), RequestOutcome.Running);
            return result;
        }
        catch (Exception ex)
        {
            Release(slot, ex is not AgentCrashedException && IsHealthy(slot.Agent), RequestOutcome.Running);
            throw;
        }
    }

    private void EndPipelined<TState, TResult>(PipelinedRequest<TState, TResult> request, RequestOutcome outcome)
    {
        if (!request.InFlight)
        {
            return; // Its last attempt was dropped, cancelled while waiting, or refused: already settled.
        }

        request.InFlight = false;
        EndRequest(outcome, request.Item, request.AffinityKey, request.RunStarted);
    }

    /// <summary>Acquires an agent and makes sure it is healthy; an agent that died while idle is removed before use.</summary>
    private async ValueTask<Slot> AcquireHealthyAsync(string? affinityKey, object item, bool admitted, CancellationToken cancellationToken)
    {
        // The bound only stops a factory that keeps producing dead agents from spinning forever.
        var unhealthyBudget = (_options.MaxAgents * 2) + 2;
        while (true)
        {
            var slot = await AcquireAsync(affinityKey, item, admitted, cancellationToken).ConfigureAwait(false);
            if (IsHealthy(slot.Agent))
            {
                return slot;
            }

            admitted = true;
            Release(slot, healthy: false, RequestOutcome.Running);
            if (--unhealthyBudget == 0)
            {
                throw new AgentCrashedException(slot.Agent.Id, null, $"Agent pool '{Name}' found no healthy agent: its agents kept reporting themselves unhealthy.", null);
            }
        }
    }

    private async ValueTask<TResult> InvokeAsync<TState, TResult>(
        Slot slot, Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation, TState state, CancellationToken cancellationToken)
    {
        // Marks this flow (the operation and everything it awaits) as this pool's work, so that a DisposeAsync called from
        // there does not wait for its own request. Set once per flow: changing an AsyncLocal allocates.
        if (!AmbientComponent<AgentPool<TAgent>>.IsInside(this))
        {
            AmbientComponent<AgentPool<TAgent>>.Current = this;
        }

        CancellationTokenSource? linked = null;
        var token = _abortTokenSource.Token;
        if (cancellationToken.CanBeCanceled)
        {
            linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abortTokenSource.Token);
            token = linked.Token;
        }

        try
        {
            return await operation(slot.Agent, state, token).ConfigureAwait(false);
        }
        finally
        {
            linked?.Dispose();
        }
    }

    /// <summary>Whether an exception thrown by the acquisition leaves the request admitted and in flight (to be ended as failed).</summary>
    private static bool LeftInFlight(Exception exception) => exception is AgentSpawnException or AgentCrashedException;

    private RequestOutcome Classify(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => RequestOutcome.Cancelled,
        OperationCanceledException when _abortTokenSource.IsCancellationRequested => RequestOutcome.CutByDrain,
        _ => RequestOutcome.Failed,
    };

    /// <summary>Gives an agent's capacity back, ends the request in the ledger unless it goes on, and serves the next waiters.</summary>
    private void Release(Slot slot, bool healthy, RequestOutcome outcome)
    {
        List<(Waiter, Slot)>? handoffs = null;
        TaskCompletionSource? retirement = null;
        int spawns;
        lock (_gate)
        {
            slot.InFlight--;
            slot.LastReleased = _time.GetTimestamp();
            if (slot.Removed)
            {
                if (slot.InFlight == 0)
                {
                    _retiringBusy--;
                }
            }
            else
            {
                _freeCapacity++;
                if (slot.InFlight == 0)
                {
                    _busy--;
                    _idle++;
                }

                if (!healthy)
                {
                    RemoveLocked(slot, crashed: true);
                }
            }

            if (slot.Removed && slot.InFlight == 0 && !slot.Retired)
            {
                slot.Retired = true;
                retirement = RegisterRetirementLocked();
            }

            EndLocked(outcome);
            DispatchLocked(ref handoffs);
            spawns = PlanSpawnsLocked();
            SignalLocked();
            AssertInvariants();
        }

        FlushMetrics();
        if (retirement is not null)
        {
            _ = RetireAsync(slot.Agent, retirement);
        }

        HandOff(handoffs);
        StartSpawns(spawns);
    }

    /// <summary>Ends a request in flight that holds no agent (its acquisition failed after admission, or its pipeline ended).</summary>
    private void EndRequest(RequestOutcome outcome, object item, string? affinityKey, long runStarted)
    {
        lock (_gate)
        {
            EndLocked(outcome);
            SignalLocked();
            AssertInvariants();
        }

        RecordEnd(outcome, item, affinityKey, runStarted);
    }

    private void EndLocked(RequestOutcome outcome)
    {
        switch (outcome)
        {
            case RequestOutcome.Running:
                return;
            case RequestOutcome.CutByDrain:
                _ledger.InFlight--;
                _ledger.CountDrop(DropReason.DrainTimeout);
                return;
            default:
                _ledger.End(outcome switch
                {
                    RequestOutcome.Succeeded => ItemOutcome.Succeeded,
                    RequestOutcome.Failed => ItemOutcome.Failed,
                    _ => ItemOutcome.Cancelled,
                });
                return;
        }
    }

    /// <summary>Reports a request's end outside the lock: its failure counter or drop report, and its run duration.</summary>
    private void RecordEnd(RequestOutcome outcome, object item, string? affinityKey, long runStarted)
    {
        if (outcome == RequestOutcome.Failed)
        {
            _reporter.CountFailure();
        }
        else if (outcome == RequestOutcome.CutByDrain)
        {
            _reporter.Dropped(DropReason.DrainTimeout, item, affinityKey);
        }

        if (runStarted != 0 && outcome != RequestOutcome.Running && _instruments.RunDuration.Enabled)
        {
            _instruments.RunDuration.Record(
                _time.GetElapsedTime(runStarted).TotalSeconds,
                _reporter.NameTag,
                new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, outcome switch
                {
                    RequestOutcome.Succeeded => Telemetry.Succeeded,
                    RequestOutcome.Failed => Telemetry.Failed,
                    _ => Telemetry.Cancelled,
                }));
        }
    }

    /// <summary>Starts the request's span when someone listens: a child of the caller's activity.</summary>
    private Activity? StartRequestSpan()
    {
        var span = Telemetry.StartSpan("parallelexec.agents.request", Name);
        span?.SetTag(TelemetryTagNames.AgentKind, _options.Spec.Kind);
        return span;
    }

    /// <summary>The state of a request across the attempts of a resilience pipeline.</summary>
    private sealed class PipelinedRequest<TState, TResult>(
        AgentPool<TAgent> pool, Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation, TState state, string? affinityKey, object item)
    {
        public readonly AgentPool<TAgent> Pool = pool;
        public readonly Func<TAgent, TState, CancellationToken, ValueTask<TResult>> Operation = operation;
        public readonly TState State = state;
        public readonly string? AffinityKey = affinityKey;
        public readonly object Item = item;

        /// <summary>Whether the request counts in flight in the ledger now (admitted, not ended); attempts run one at a time.</summary>
        public bool InFlight;

        /// <summary>When its first attempt got an agent, for the run duration; 0 when not measured.</summary>
        public long RunStarted;
    }
}
