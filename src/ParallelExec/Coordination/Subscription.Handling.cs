using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>The handler side of a subscription: the loops that empty the mailbox, one delivery's outcome, and the drain.</summary>
public abstract partial class Subscription
{
    /// <summary>Waits for the drain, up to the bus's drain timeout; then cancels the handler and drops what is left.</summary>
    internal Task DrainAsync() => Lifecycle.DrainAsync(_drained.Task, Bus.Options.DrainTimeout, Bus.Options.TimeProvider, Abandon);

    /// <summary>Cancels running handlers and makes the loops drop the rest of the mailbox (<see cref="DropReason.DrainTimeout"/>).</summary>
    internal virtual void Abandon()
    {
        _abandoned = true;
        try
        {
            _handlerCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A handler's cancellation callback threw; the handler is told through its token regardless.
        }
    }

    private protected void StartHandlerLoops()
    {
        if (MaxDegreeOfParallelism == 1)
        {
            _ = CompleteWhenDone(Task.Run(RunHandlerLoopAsync));
            return;
        }

        var loops = new Task[MaxDegreeOfParallelism];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = Task.Run(RunHandlerLoopAsync);
        }

        _ = CompleteWhenDone(Task.WhenAll(loops));
    }

    private async Task CompleteWhenDone(Task loops)
    {
        try
        {
            await loops.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops catch handler exceptions themselves; nothing else is expected, and the drain must complete.
        }

        Bus.Retire(this);
        _drained.TrySetResult();
    }

    private async Task RunHandlerLoopAsync()
    {
        // Set once per loop rather than per message: it flows into every handler call this loop makes, so that
        // publishing into our own full mailbox and disposing ourselves from a handler can tell they would wait for themselves.
        AmbientComponent<Subscription>.Current = this;
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out var envelope))
            {
                if (_abandoned)
                {
                    ItemLedger.IncrementAtomic(ref _rare.Dropped);
                    ReportDrop(envelope, DropReason.DrainTimeout);
                    continue;
                }

                var processing = ProcessAsync(envelope);
                if (!processing.IsCompletedSuccessfully)
                {
                    await processing.ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Handles one message. A handler that completes synchronously (the common case for quick handlers) costs
    /// no async state machine; only a pending or faulted one goes through <see cref="AwaitHandlerAsync"/>.</summary>
    private ValueTask ProcessAsync(Envelope envelope)
    {
        var telemetry = Bus.Telemetry;
        var started = telemetry.Instruments.RunDuration.Enabled ? Bus.Options.TimeProvider.GetTimestamp() : 0;
        telemetry.RecordWait(Bus.Options.TimeProvider, envelope);

        // An async method would undo AsyncLocal changes (Activity.Current, ...) a synchronous handler leaves behind;
        // without one, restore them ourselves so that they cannot leak into the next message. Capture is a field read.
        var context = ExecutionContext.Capture();
        var span = Telemetry.ActivitySource.HasListeners()
            ? telemetry.StartSpan(BusTelemetry.DeliverSpan, envelope.Topic, envelope.PublisherContext, ActivityKind.Consumer)
            : null;
        ValueTask pending;
        try
        {
            pending = InvokeAsync(envelope, _handlerCancellation.Token);
        }
        catch (Exception exception)
        {
            RestoreContext(context);

            // A handler that throws before returning its ValueTask: same outcome as one whose task faults.
            OnHandlerFailed(envelope, exception, started, span);
            return default;
        }

        RestoreContext(context);

        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitHandlerAsync(pending, envelope, started, span);
        }

        OnSucceeded(started, span);
        return default;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitHandlerAsync(ValueTask pending, Envelope envelope, long started, Activity? span)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            OnHandlerFailed(envelope, exception, started, span);
            return;
        }

        OnSucceeded(started, span);
    }

    private void OnSucceeded(long started, Activity? span)
    {
        OnHandled();
        AssertInvariants();
        Bus.Telemetry.RecordRun(Bus.Options.TimeProvider, started, Telemetry.Succeeded);
        span?.Stop();
    }

    /// <summary>
    /// A handler threw. Cut by the drain timeout (its token cancelled by <see cref="Abandon"/>), the delivery is a drop
    /// (<see cref="DropReason.DrainTimeout"/>); otherwise it failed: reported to <c>OnError</c> (or recorded on its span
    /// only), sent to the dead letters, and passed to the requester when this is a responder.
    /// </summary>
    private void OnHandlerFailed(Envelope envelope, Exception exception, long started, Activity? span)
    {
        if (exception is OperationCanceledException && _abandoned)
        {
            ItemLedger.IncrementAtomic(ref _rare.Dropped);
            Bus.Telemetry.RecordRun(Bus.Options.TimeProvider, started, Telemetry.Cancelled);
            ReportDrop(envelope, DropReason.DrainTimeout);
            span?.Stop();
            return;
        }

        ItemLedger.IncrementAtomic(ref _rare.Failed);
        AssertInvariants();
        Bus.Telemetry.RecordRun(Bus.Options.TimeProvider, started, Telemetry.Failed);
        Bus.Telemetry.Reporter.Failed(exception, envelope.BoxedMessage, envelope.Topic, span);
        span?.Stop();
        Bus.OnHandlerFailed(this, envelope, exception);
        if (ReplyType is { } replyType && envelope.Reply is { } sink && sink.Accepts(replyType))
        {
            sink.OnFailure(exception);
        }
    }

    private static void RestoreContext(ExecutionContext? context)
    {
        if (context is not null && !ReferenceEquals(ExecutionContext.Capture(), context))
        {
            ExecutionContext.Restore(context);
        }
    }
}
