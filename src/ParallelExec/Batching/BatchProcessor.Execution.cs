using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

// Running a started batch: the worker (one per handler slot, taking queued batches while it holds the slot), the handler
// call (through the resilience pipeline), bisection of a failing batch, and one parallelexec.batch.flush span per
// handler call. The Coyote build rewrites InvokeAsync (see tests/ParallelExec.Coyote.Tests/LibraryUnderTest): keep its shape.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private const string FlushSpanName = "parallelexec.batch.flush";

    /// <summary>Runs the handler worker for a started batch; the batch's thread-pool work item calls it.</summary>
    internal void RunWorker(PendingBatch<TItem, TResult> batch)
    {
        // The worker and its handlers run in the handler context, which holds nothing but the self-disposal marker:
        // entering a ready-made context allocates nothing, where setting an AsyncLocal per worker would.
        var context = _handlerContext ??= CaptureHandlerContext();
        if (context is null)
        {
            // Cannot fault: RunWorkerAsync catches every failure and hands it to the batch's items (see there).
            _ = RunWorkerAsync(batch);
            return;
        }

        ExecutionContext.Run(context, _runWorkerCallback, batch);
    }

    /// <summary>Builds the handler context on a thread-pool thread (a batch's work item), whose context is the default one.</summary>
    private ExecutionContext? CaptureHandlerContext()
    {
        AmbientComponent<BatchProcessor<TItem, TResult>>.Current = this;
        var context = ExecutionContext.Capture();
        AmbientComponent<BatchProcessor<TItem, TResult>>.Current = null;
        return context;
    }

    private async Task RunWorkerAsync(PendingBatch<TItem, TResult> batch)
    {
        // One worker keeps taking queued batches while it holds a handler slot, so a busy processor does not
        // re-dispatch per batch. The handler's own failures are delivered to the items inside ProcessBatchAsync; what
        // else may throw there (a listener's callback on the flush span or an instrument, a TimeProvider) ends every
        // item of the batch that has no outcome yet with that exception, so no caller waits forever and the slot is
        // freed. FinishBatch runs no user code (bookkeeping under the lock, completions whose continuations run
        // asynchronously), so the task this method returns never faults and is not observed.
        for (var current = batch; current is not null; current = FinishBatch(current))
        {
            try
            {
                await ProcessBatchAsync(current).ConfigureAwait(false);
            }
            catch (Exception exception)
            {
                FailUnfinished(current, exception);
            }
        }
    }

    private async Task ProcessBatchAsync(PendingBatch<TItem, TResult> batch)
    {
        var count = batch.Count;
        if (count == 0)
        {
            return;
        }

        // From here the handler's token governs: detach the callers' tokens. Dispose waits for a callback that is
        // running right now; that callback sees the batch started and leaves the caller alone.
        for (var i = 0; i < count; i++)
        {
            for (var caller = batch.Callers[i]; caller is not null; caller = caller.Next)
            {
                caller.Registration.Dispose();
            }
        }

        var start = _time.GetTimestamp();
        var nameTag = _reporter.NameTag;
        if (_batchInstruments.Flushes.Enabled)
        {
            _batchInstruments.Flushes.Add(1, nameTag, new(TelemetryTagNames.FlushReason, BatchInstruments.TagValue(batch.Reason)));
        }

        if (_batchInstruments.Size.Enabled)
        {
            _batchInstruments.Size.Record(count, nameTag);
        }

        if (_instruments.WaitDuration.Enabled)
        {
            // Per batch, the wait of its oldest item: every other item of the batch waited less.
            _instruments.WaitDuration.Record(_time.GetElapsedTime(batch.OpenedAt, start).TotalSeconds, nameTag);
        }

        await ExecuteRangeAsync(batch, 0, count).ConfigureAwait(false);

        var latency = _time.GetElapsedTime(start);
        batch.Latency = latency;
        if (_instruments.RunDuration.Enabled)
        {
            // Per batch (all its handler calls), tagged with the worst outcome among its items.
            var outcome = batch.FailedCount > 0 ? Telemetry.Failed : batch.CutCount > 0 ? Telemetry.Cancelled : Telemetry.Succeeded;
            _instruments.RunDuration.Record(latency.TotalSeconds, nameTag, new(TelemetryTagNames.Outcome, outcome));
        }
    }

    private async Task ExecuteRangeAsync(PendingBatch<TItem, TResult> batch, int offset, int count)
    {
        Interlocked.Increment(ref _handlerCalls);
        using var span = StartFlushSpan(batch, offset, count);
        var view = new BatchItemsView<TItem>(batch.Items, offset, count);
        Exception? failure = null;
        try
        {
            if (_byPosition is not null)
            {
                IReadOnlyList<TResult> results;
                try
                {
                    results = await InvokeAsync(_byPosition, view).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    failure = ex;
                    results = [];
                }

                if (failure is null)
                {
                    CompleteByPosition(batch, offset, count, results);
                    return;
                }
            }
            else
            {
                IReadOnlyDictionary<TItem, TResult>? results;
                try
                {
                    results = await InvokeAsync(_byKey!, view).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    failure = ex;
                    results = null;
                }

                if (failure is null)
                {
                    CompleteByKey(batch, offset, count, results);
                    return;
                }
            }
        }
        finally
        {
            view.Detach();
        }

        Telemetry.RecordFailure(span, failure);
        if (failure is OperationCanceledException && _shutdown.IsCancellationRequested)
        {
            // The drain timeout cancelled this call: its items are cut, not failed by the handler.
            CutRange(batch, offset, count, failure);
            return;
        }

        if (_options.FailureMode == BatchFailureMode.Bisect && count > 1 && !_shutdown.IsCancellationRequested)
        {
            // Each half is a handler call of its own with a span of its own: end this one first, so they are not its children.
            span?.Dispose();
            var half = count / 2;
            await ExecuteRangeAsync(batch, offset, half).ConfigureAwait(false);
            await ExecuteRangeAsync(batch, offset + half, count - half).ConfigureAwait(false);
            return;
        }

        FailRange(batch, offset, count, failure);
    }

    private ValueTask<T> InvokeAsync<T>(Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<T>> handler, BatchItemsView<TItem> view)
    {
        var token = _shutdown.Token;
        if (_options.ResiliencePipeline is not { } pipeline)
        {
            return handler(view, token);
        }

        return pipeline.ExecuteAsync(static (state, ct) => state.Handler(state.View, ct), (Handler: handler, View: view), token);
    }

    /// <summary>
    /// Starts the span of one handler call, linked to the trace context of every submitter of its items (captured at
    /// submission), so the batch is not an orphan root. Nothing is captured or started when nobody listens.
    /// </summary>
    private Activity? StartFlushSpan(PendingBatch<TItem, TResult> batch, int offset, int count)
    {
        if (!Telemetry.ActivitySource.HasListeners())
        {
            return null;
        }

        var span = Telemetry.StartSpan(FlushSpanName, Name, links: batch.LinksFor(offset, count));
        span?.SetTag(TelemetryTagNames.FlushReason, BatchInstruments.TagValue(batch.Reason));
        span?.SetTag("parallelexec.batch.size", count);
        return span;
    }
}
