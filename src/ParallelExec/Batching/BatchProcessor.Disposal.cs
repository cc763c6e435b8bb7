using ParallelExec.Internal;

namespace ParallelExec.Batching;

// The lifecycle (Internal/Lifecycle): Complete stops intake and flushes the open batch; DisposeAsync does the same, then
// drains within DrainTimeout (Lifecycle.DrainAsync) and, when it passes, drops the batches that have not started and
// cancels the running handler calls. A DisposeAsync called from a handler of this processor is detected
// (AmbientComponent) and does not wait for its own handler call.
public sealed partial class BatchProcessor<TItem, TResult>
{
    /// <summary>
    /// Stops intake: later submissions throw <see cref="InvalidOperationException"/>; the open batch is flushed at once and
    /// every accepted item still runs. <see cref="Completion"/> completes when they have all ended. Idempotent.
    /// </summary>
    public void Complete()
    {
        var effects = default(Effects);
        lock (_gate)
        {
            if (!_lifecycle.TryStopIntake())
            {
                return;
            }

            StopIntakeLocked(ref effects);
        }

        Apply(in effects);
    }

    /// <summary>
    /// Stops intake, flushes the open batch and waits until every pending item has been handled. Idempotent: later calls
    /// wait for the same drain. When <see cref="ComponentOptions.DrainTimeout"/> passes first, batches that have not
    /// started are dropped and the handler's token is cancelled; every item cut this way is reported with
    /// <see cref="DropReason.DrainTimeout"/>.
    /// </summary>
    /// <returns>A task that completes when the processor has drained (called from a handler of this processor: when
    /// everything else has drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from a handler.</b> A handler of this processor (or anything on its async flow) that awaits the
    /// processor's disposal would wait for its own batch forever. Such a call is detected (handlers run in an execution
    /// context that marks them, built once per processor) and behaves differently in one point only: it starts the
    /// disposal as usual (intake stops, the open batch is flushed, <see cref="ComponentOptions.DrainTimeout"/> applies to
    /// every batch, the caller's included), but the task it returns does not wait for the calling handler call. It
    /// completes once every running handler call has ended except the calls waiting in such a <c>DisposeAsync</c>
    /// (counted per call, so that two handlers disposing the processor at once do not wait for each other) and no queued
    /// batch can start: batches still queued then need a handler slot that only a caller frees (every slot runs a
    /// caller), and they are handled after it, as part of the drain.</para>
    /// <para>Calls from outside (the first or later ones) return the full drain: it completes only when every item, those
    /// of the batches whose handlers called <c>DisposeAsync</c> included, has ended.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromInside = AmbientComponent<BatchProcessor<TItem, TResult>>.IsInside(this);
        var effects = default(Effects);
        TaskCompletionSource? started;
        Task disposal;
        Task? othersDrained = null;
        lock (_gate)
        {
            // The source FinishDisposalAsync completes, set under the lock so a concurrent second call finds it.
            disposal = _lifecycle.BeginDisposal(out started);
            if (started is not null)
            {
                StopIntakeLocked(ref effects);
            }

            if (fromInside)
            {
                othersDrained = AddSelfDisposerLocked();
            }
        }

        if (started is null)
        {
            return new ValueTask(othersDrained ?? disposal);
        }

        Apply(in effects);

        // Cannot fault: FinishDisposalAsync hands its failure to the disposal task every DisposeAsync call returns.
        _ = FinishDisposalAsync(started);
        return new ValueTask(othersDrained ?? disposal);
    }

    /// <summary>Intake has just stopped (Complete or the first DisposeAsync): flush the open batch, wake the waiters.</summary>
    private void StopIntakeLocked(ref Effects effects)
    {
        // Closes the open batch to appends for good (ArmOpenLocked arms only while intake is open).
        SettleOpenLocked(ref effects);
        if (_open.Count > 0)
        {
            effects.Start = SealLocked(BatchFlushReason.Dispose, ref effects);
        }

        // Wake submitters waiting for room: they will see intake stopped.
        effects.RoomSignal = _roomAvailable;
        _roomAvailable = null;
        CompleteIfDrainedLocked();
        AssertInvariants();
    }

    /// <summary>Completes <see cref="Completion"/> once intake has stopped and nothing accepted is left (its continuations run asynchronously).</summary>
    private void CompleteIfDrainedLocked()
    {
        if (!_lifecycle.IsOpen && _running.Count == 0 && _ready.Count == 0 && _open.Count == 0)
        {
            _lifecycle.SetCompleted();
        }
    }

    /// <summary>The first DisposeAsync call's background part: the drain within the timeout, then the end of the disposal.</summary>
    /// <remarks>When the timed wait itself fails (the clock's timer throws), the drain cannot be bounded: what is left is
    /// cancelled and dropped at once, as when the timeout passes, and the disposal ends with that exception, so the
    /// disposer learns of it and nothing stays pending.</remarks>
    private async Task FinishDisposalAsync(TaskCompletionSource disposal)
    {
        Exception? failure = null;
        try
        {
            await Lifecycle.DrainAsync(_lifecycle.Completion, _options.DrainTimeout, _time, CancelRest).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            failure = exception;
            try
            {
                await Task.Run(CancelRest).ConfigureAwait(false);
            }
            catch (AggregateException)
            {
                // A registration on the handler's token threw while cancelling: the token is cancelled regardless.
            }

            await _lifecycle.Completion.ConfigureAwait(false);
        }

        try
        {
            _timer?.Dispose();
        }
        catch (Exception exception)
        {
            // The clock's timer failed to dispose: the disposal still ends, and says so.
            failure ??= exception;
        }

        _instruments.Live.Remove(this);

        if (failure is null)
        {
            disposal.TrySetResult();
        }
        else
        {
            disposal.TrySetException(failure);
        }
    }

    /// <summary>The drain timeout passed (Lifecycle.DrainAsync runs this off the disposer's stack).</summary>
    private void CancelRest()
    {
        // Drop first: cancelling ends the running calls, whose workers would otherwise start queued batches.
        DropUnstartedBatches();
        _shutdown.Cancel();
    }

    private void DropUnstartedBatches()
    {
        List<PendingBatch<TItem, TResult>> dropped;
        lock (_gate)
        {
            dropped = _ready.DrainToList();
            foreach (var batch in dropped)
            {
                batch.Started = true;
                _pending -= batch.Count;
                for (var i = 0; i < batch.Submissions; i++)
                {
                    _ledger.EndQueued(DropReason.DrainTimeout);
                }
            }

            AssertInvariants();
        }

        foreach (var batch in dropped)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                DropSlot(batch.Items[i], batch.Callers[i], batch.Posts[i], DropReason.DrainTimeout);
            }
        }

        List<TaskCompletionSource>? flushed;
        lock (_gate)
        {
            foreach (var batch in dropped)
            {
                RecycleLocked(batch);
            }

            flushed = TakeCompletedFlushWaitersLocked();
            CompleteIfDrainedLocked();
            SignalOthersDrainedLocked();
        }

        CompleteAll(flushed);
    }

    /// <summary>Registers a DisposeAsync call made from a handler and returns the task it completes with.</summary>
    private Task AddSelfDisposerLocked()
    {
        _selfDisposers++;
        var othersDrained = _othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SignalOthersDrainedLocked();
        return othersDrained.Task;
    }

    /// <summary>
    /// Completes the DisposeAsync calls made from handlers once every running handler call is one of theirs and no queued
    /// batch can start (every handler slot runs such a call); anything else would wait for the callers themselves.
    /// </summary>
    private void SignalOthersDrainedLocked()
    {
        if (_othersDrained is { } othersDrained
            && _open.Count == 0
            && _running.Count <= _selfDisposers
            && (_ready.Count == 0 || _running.Count >= _options.MaxDegreeOfParallelism))
        {
            // Continuations run asynchronously: completing it under the lock runs no user code.
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }
    }
}
