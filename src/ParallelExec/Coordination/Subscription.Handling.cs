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
        // Neither call below can fault: CompleteWhenDone catches what the loops throw and ends what they left.
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

    /// <summary>Marks the subscription drained when its loops (or its stream's reader) are done. The loops catch handler
    /// exceptions themselves; one that still ends with an exception (the library's own work around a handler threw: a
    /// listener's callback, the clock, a failure report) leaves messages in the mailbox that no loop will take. Then
    /// the subscription stops taking messages, and each message left is reported dropped
    /// (<see cref="DropReason.Cancelled"/>: the component cancelled it) and counted cancelled, so none is lost silently;
    /// the exception is recorded on the current span.</summary>
    private async Task CompleteWhenDone(Task loops)
    {
        try
        {
            await loops.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            // Every loop has ended (Task.WhenAll waits for all): the faulted one closed the mailbox, the others emptied
            // what they could. A single loop leaves the rest.
            StopAfterLoopFault();
            Telemetry.RecordFailure(Activity.Current, exception);
            DropLeftAfterFault();
        }

        Bus.Retire(this);
        _drained.TrySetResult();
    }

    /// <summary>A handler loop is ending with an exception: stop intake at once, so that publishers do not fill a
    /// mailbox no loop will empty (and the other loops of a parallel subscription can finish).</summary>
    private void StopAfterLoopFault()
    {
        Bus.Unregister(this);
        Close();
    }

    /// <summary>Ends every message a faulted loop left in the closed mailbox.</summary>
    private void DropLeftAfterFault()
    {
        while (_mailbox.Reader.TryRead(out var envelope))
        {
            Interlocked.Decrement(ref _received.Value);
            ItemLedger.IncrementAtomic(ref _rare.Cancelled);
            try
            {
                ReportDrop(envelope, DropReason.Cancelled);
            }
            catch (Exception)
            {
                // The reporting machinery itself throws: the message is counted; nothing else can be told.
            }
        }
    }

    private async Task RunHandlerLoopAsync()
    {
        // Set once per loop rather than per message: it flows into every handler call this loop makes, so that
        // publishing into our own full mailbox and disposing ourselves from a handler can tell they would wait for themselves.
        AmbientComponent<Subscription>.Current = this;
        var reader = _mailbox.Reader;
        try
        {
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
        catch (Exception)
        {
            // Reached only when reporting a delivery's outcome threw (the delivery is counted); CompleteWhenDone ends the rest.
            StopAfterLoopFault();
            throw;
        }
    }

    /// <summary>Handles one message. A handler that completes synchronously (the common case for quick handlers) costs
    /// no async state machine; only a pending or faulted one goes through <see cref="AwaitHandlerAsync"/>.</summary>
    private ValueTask ProcessAsync(Envelope envelope)
    {
        // An async method would undo AsyncLocal changes (Activity.Current, ...) a synchronous handler leaves behind;
        // without one, restore them ourselves so that they cannot leak into the next message. Capture is a field read.
        var context = ExecutionContext.Capture();
        long started = 0;
        Activity? span = null;
        ValueTask pending;
        try
        {
            // Inside the try: a listener's callback or the clock throwing here fails this delivery like its handler would.
            var telemetry = Bus.Telemetry;
            started = telemetry.Instruments.RunDuration.Enabled ? Bus.Options.TimeProvider.GetTimestamp() : 0;
            telemetry.RecordWait(Bus.Options.TimeProvider, envelope);
            span = Telemetry.ActivitySource.HasListeners()
                ? telemetry.StartSpan(BusTelemetry.DeliverSpan, envelope.Topic, envelope.PublisherContext, ActivityKind.Consumer)
                : null;
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
