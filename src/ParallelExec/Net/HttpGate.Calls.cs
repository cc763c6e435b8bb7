using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>One call through the gate, in order: submission, its attempts through the pipeline, its end in the ledger.</summary>
public sealed partial class HttpGate
{
    private async Task<TResult> RunCoreAsync<TState, TResult>(
        string provider,
        object item,
        TState state,
        Func<TState, CancellationToken, ValueTask<TResult>> call,
        int weight,
        int priority,
        Polly.ResiliencePipeline<TResult>? typedPipeline,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        Call<TState, TResult> gateCall;
        lock (_lock)
        {
            _lifecycle.ThrowIfNotOpen(Name);
            var gateProvider = GetProviderLocked(provider);
            if (gateProvider.Limits.WeightLimit is { } weightLimit && weight > weightLimit)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(weight), weight, $"The weight is above provider '{provider}''s WeightLimit ({weightLimit}); the call could never be admitted.");
            }

            gateCall = new Call<TState, TResult>(this, gateProvider, item, state, call, weight, priority, Now());

            // Until its last attempt ends the call is in flight (its own hands), except while an attempt waits in the queue.
            _ledger.Accept(queued: false);
            AssertInvariants();
        }

        _reporter.Submitted();
        using var span = Telemetry.StartSpan(CallSpanName, Name);
        span?.SetTag(TelemetryTagNames.Provider, provider);
        Exception? failure = null;
        try
        {
            if (typedPipeline is not null)
            {
                return await typedPipeline.ExecuteAsync(static (c, token) => c.RunAttemptAsync(token), gateCall, cancellationToken).ConfigureAwait(false);
            }

            if (_options.ResiliencePipeline is not { } pipeline)
            {
                return await gateCall.RunAttemptAsync(cancellationToken).ConfigureAwait(false);
            }

            return await pipeline.ExecuteAsync(static (c, token) => c.RunAttemptAsync(token), gateCall, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            failure = exception;
            throw;
        }
        finally
        {
            End(gateCall, failure, cancellationToken, span);
        }
    }

    /// <summary>
    /// Ends a call in the ledger once, after its last attempt: reports it (outside the lock) before the ledger counts it
    /// ended, so that <see cref="Completion"/> never completes before the report of the last call.
    /// </summary>
    private void End(GateCall call, Exception? failure, CancellationToken cancellationToken, Activity? span)
    {
        DropReason? drop = null;
        var outcome = ItemOutcome.Succeeded;
        if (failure is not null)
        {
            if (call.DroppedBy is { } reason && failure is ItemDroppedException)
            {
                drop = reason;
            }
            else if (failure is OperationCanceledException or ObjectDisposedException
                && !cancellationToken.IsCancellationRequested && Volatile.Read(ref _deadlinePassed))
            {
                // Cancelled by the drain timeout while running, or refused a retry after it.
                drop = DropReason.DrainTimeout;
            }
            else
            {
                outcome = failure is OperationCanceledException ? ItemOutcome.Cancelled : ItemOutcome.Failed;
            }
        }

        if (drop is { } dropReason)
        {
            _reporter.Dropped(dropReason, call.Item, call.Provider.Name);
        }
        else if (outcome == ItemOutcome.Failed)
        {
            _reporter.CountFailure();
            Telemetry.RecordFailure(span, failure!);
        }

        RecordRun(call, drop is null ? outcome : ItemOutcome.Cancelled, span);
        lock (_lock)
        {
            if (drop is { } reason)
            {
                _ledger.InFlight--;
                _ledger.CountDrop(reason);
                call.Provider.Dropped++;
            }
            else
            {
                _ledger.End(outcome);
            }

            SignalIfDrainedLocked();
            AssertInvariants();
        }
    }

    /// <summary>Records the standard telemetry of an admitted attempt, on the call's own flow, outside the lock.</summary>
    private void OnAdmitted(GateCall call, GateTicket ticket)
    {
        _telemetry.Admitted.Add(1, call.Provider.Tags);
        if (call.FirstAdmittedAt is null)
        {
            call.FirstAdmittedAt = ticket.AdmittedAt;
            if (_instruments.WaitDuration.Enabled)
            {
                _instruments.WaitDuration.Record((ticket.AdmittedAt - call.SubmittedAt).TotalSeconds, _reporter.NameTag);
            }
        }
    }

    /// <summary>Records how long a call ran, from its first admission to its end, with its outcome.</summary>
    private void RecordRun(GateCall call, ItemOutcome outcome, Activity? span)
    {
        var tag = outcome switch
        {
            ItemOutcome.Succeeded => Telemetry.Succeeded,
            ItemOutcome.Failed => Telemetry.Failed,
            _ => Telemetry.Cancelled,
        };
        span?.SetTag(TelemetryTagNames.Outcome, tag);
        if (call.FirstAdmittedAt is { } started && _instruments.RunDuration.Enabled)
        {
            _instruments.RunDuration.Record((Now() - started).TotalSeconds, _reporter.NameTag, new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, tag));
        }
    }

    /// <summary>A call with its state and delegate; <see cref="RunAttemptAsync"/> is one attempt, run by the pipeline.</summary>
    private sealed class Call<TState, TResult>(
        HttpGate gate,
        GateProvider provider,
        object item,
        TState state,
        Func<TState, CancellationToken, ValueTask<TResult>> call,
        int weight,
        int priority,
        TimeSpan submittedAt)
        : GateCall(gate, provider, item, weight, priority, submittedAt)
    {
        /// <summary>One attempt: admission, the call, the throttling feedback and the release of the slot.</summary>
        public async ValueTask<TResult> RunAttemptAsync(CancellationToken cancellationToken)
        {
            var ticket = await Gate.AcquireAsync(this, cancellationToken).ConfigureAwait(false);
            try
            {
                Gate.OnAdmitted(this, ticket);
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Gate._shutdown.Token);

                // Marks this flow as the gate's own work, so that a DisposeAsync it makes does not wait for itself. Set in
                // this async method, so the mark is undone when the attempt returns.
                if (!AmbientComponent<HttpGate>.IsInside(Gate))
                {
                    AmbientComponent<HttpGate>.Current = Gate;
                }

                var result = await call(state, linked.Token).ConfigureAwait(false);

                // Only SendAsync under a response pipeline returns a throttling answer (elsewhere it is thrown): pause the
                // provider before the slot is released, as for a thrown one.
                if (result is HttpResponseMessage response && Gate._options.ResponseResiliencePipeline is not null
                    && Gate.IsThrottle(response, out var retryAfter))
                {
                    Gate.OnThrottled(Provider, retryAfter);
                }

                return result;
            }
            catch (ProviderThrottledException throttled)
            {
                // Pause before the slot is released, so that the freed slot does not go to the same provider.
                Gate.OnThrottled(Provider, throttled.RetryAfter);
                throw;
            }
            finally
            {
                Gate.Release(ticket);
            }
        }
    }
}
