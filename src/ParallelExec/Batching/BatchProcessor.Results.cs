using ParallelExec.Internal;

namespace ParallelExec.Batching;

// The end of a handler call: every submission of its slots gets its result, its exception, or (when the drain timeout
// cancelled the call) a drop report; the counts go into the batch and, when the batch ends (FinishBatch, under the
// lock), into the ledger. This runs on the worker without the lock: the batch is the worker's once started.
public sealed partial class BatchProcessor<TItem, TResult>
{
    private void CompleteByPosition(PendingBatch<TItem, TResult> batch, int offset, int count, IReadOnlyList<TResult>? results)
    {
        if (results is null || results.Count != count)
        {
            var error = new InvalidOperationException(
                $"The batch handler returned {results?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"} results for {count} items; "
                + "a by-position handler must return exactly one result per item, in input order.");
            FailRange(batch, offset, count, error);
            return;
        }

        var awaitedFailures = 0;
        for (var i = 0; i < count; i++)
        {
            TResult result;
            try
            {
                result = results[i];
            }
            catch (Exception ex)
            {
                awaitedFailures += FailSlot(batch, offset + i, ex);
                continue;
            }

            SucceedSlot(batch, offset + i, result);
        }

        CountAwaitedFailures(awaitedFailures);
    }

    private void CompleteByKey(PendingBatch<TItem, TResult> batch, int offset, int count, IReadOnlyDictionary<TItem, TResult>? results)
    {
        var awaitedFailures = 0;
        for (var i = 0; i < count; i++)
        {
            var index = offset + i;
            var item = batch.Items[index];
            try
            {
                if (results is null)
                {
                    awaitedFailures += FailSlot(batch, index, new InvalidOperationException("The by-key batch handler returned null instead of a dictionary."));
                }
                else if (results.TryGetValue(item, out var result))
                {
                    SucceedSlot(batch, index, result);
                }
                else if (_options.MissingKeyBehavior == MissingKeyBehavior.ReturnDefault)
                {
                    SucceedSlot(batch, index, default!);
                }
                else
                {
                    awaitedFailures += FailSlot(batch, index, new KeyNotFoundException($"The batch handler returned no result for the item '{item}'."));
                }
            }
            catch (Exception ex)
            {
                // The user's dictionary threw from TryGetValue; nothing of this slot has been completed yet.
                awaitedFailures += FailSlot(batch, index, ex);
            }
        }

        CountAwaitedFailures(awaitedFailures);
    }

    private static void SucceedSlot(PendingBatch<TItem, TResult> batch, int index, TResult result)
    {
        var completed = batch.Posts[index];
        for (var caller = batch.Callers[index]; caller is not null;)
        {
            // Read the link first: once completed, the caller may recycle the source at any moment.
            var next = caller.Next;
            caller.SetResult(result);
            caller = next;
            completed++;
        }

        batch.SucceededCount += completed;
        batch.EndSlot(index);
    }

    private void FailRange(PendingBatch<TItem, TResult> batch, int offset, int count, Exception error)
    {
        var awaitedFailures = 0;
        for (var i = 0; i < count; i++)
        {
            awaitedFailures += FailSlot(batch, offset + i, error);
        }

        CountAwaitedFailures(awaitedFailures);
    }

    /// <summary>
    /// Fails every submission of a slot: awaiting callers get the exception; each post is reported (OnError, or the
    /// current flush span and the failure counter). Returns how many awaiting callers failed, for the counter.
    /// </summary>
    private int FailSlot(PendingBatch<TItem, TResult> batch, int index, Exception error)
    {
        var awaited = 0;
        for (var caller = batch.Callers[index]; caller is not null;)
        {
            var next = caller.Next;
            caller.SetException(error);
            caller = next;
            awaited++;
        }

        var posts = batch.Posts[index];
        batch.FailedCount += awaited + posts;
        batch.EndSlot(index);
        for (var i = 0; i < posts; i++)
        {
            _reporter.Failed(error, batch.Items[index]);
        }

        return awaited;
    }

    /// <summary>
    /// Ends, with <paramref name="error"/>, every submission of a started batch that has no outcome yet: the library's
    /// own work around the handler threw (a listener's callback, the clock). Awaiting callers get the exception first
    /// (no user code runs there); then each post goes to the error channel like a handler failure. A reporting step that
    /// throws in turn cannot stop the rest: the outcomes are already set and counted.
    /// </summary>
    private void FailUnfinished(PendingBatch<TItem, TResult> batch, Exception error)
    {
        var awaited = 0;
        List<TItem>? posted = null;
        for (var index = 0; index < batch.Count; index++)
        {
            if (batch.IsEnded(index))
            {
                continue;
            }

            for (var caller = batch.Callers[index]; caller is not null;)
            {
                var next = caller.Next;
                caller.Registration.Dispose();
                caller.SetException(error);
                caller = next;
                awaited++;
            }

            for (var i = 0; i < batch.Posts[index]; i++)
            {
                (posted ??= []).Add(batch.Items[index]);
            }

            batch.EndSlot(index);
        }

        batch.FailedCount += awaited + (posted?.Count ?? 0);
        try
        {
            Telemetry.RecordFailure(System.Diagnostics.Activity.Current, error);
            CountAwaitedFailures(awaited);
            foreach (var item in posted ?? [])
            {
                _reporter.Failed(error, item);
            }
        }
        catch (Exception)
        {
            // The reporting machinery itself throws (the same faulty listener): every item already has its outcome, in
            // the ledger and at its caller; there is nowhere left to report to.
        }
    }

    /// <summary>Counts awaited failures (their callers get the exception); posted ones were counted by the reporter.</summary>
    private void CountAwaitedFailures(int awaited)
    {
        if (awaited > 0)
        {
            _instruments.Failed.Add(awaited, _reporter.NameTag);
        }
    }

    /// <summary>
    /// Ends the submissions of a handler call that the drain timeout cancelled: each is reported dropped with
    /// <see cref="DropReason.DrainTimeout"/>, and awaiting callers get the handler's cancellation exception.
    /// </summary>
    private void CutRange(PendingBatch<TItem, TResult> batch, int offset, int count, Exception error)
    {
        for (var index = offset; index < offset + count; index++)
        {
            var callers = batch.Callers[index];
            var posts = batch.Posts[index];
            batch.EndSlot(index);
            batch.CutCount += DropSlot(batch.Items[index], callers, posts, DropReason.DrainTimeout, error);
        }
    }

    /// <summary>
    /// Reports every submission of a slot that will not get a result of its own (outside the lock): the drop callback
    /// first, so it has run by the time an awaiting caller sees the drop, then the caller's exception
    /// (<paramref name="callerError"/>, or an <see cref="ItemDroppedException"/>). Returns how many submissions it ended.
    /// </summary>
    private int DropSlot(TItem item, BatchItemSource<TItem, TResult>? callers, int posts, DropReason reason, Exception? callerError = null)
    {
        var ended = posts;
        for (var caller = callers; caller is not null;)
        {
            // Read the link first: once completed, the caller may recycle the source at any moment.
            var next = caller.Next;
            caller.Registration.Dispose();
            _reporter.Dropped(reason, item);
            caller.SetException(callerError ?? new ItemDroppedException(reason));
            caller = next;
            ended++;
        }

        for (var i = 0; i < posts; i++)
        {
            _reporter.Dropped(reason, item);
        }

        return ended;
    }

    /// <summary>Ends a handled batch: frees its slot, adapts the size, and takes the next queued batch for this worker.</summary>
    private PendingBatch<TItem, TResult>? FinishBatch(PendingBatch<TItem, TResult> batch)
    {
        var effects = default(Effects);
        PendingBatch<TItem, TResult>? next = null;
        List<TaskCompletionSource>? flushed;
        lock (_gate)
        {
            _running.Remove(batch);
            EndInLedgerLocked(batch);
            if (batch.Count > 0)
            {
                _lastLatencyTicks = batch.Latency.Ticks;
                // A partial batch (flushed by time or on request) says nothing about how large a batch could be,
                // unless it was already too slow.
                if (_options.AdaptiveBatchSize && (batch.Reason == BatchFlushReason.Size || batch.Latency > _options.TargetLatency))
                {
                    AdaptLocked(batch.Count, batch.Latency);
                }
            }

            RecycleLocked(batch);
            if (_ready.Count > 0 && _running.Count < _options.MaxDegreeOfParallelism)
            {
                next = _ready.Dequeue();
                StartLocked(next, ref effects);
            }

            flushed = TakeCompletedFlushWaitersLocked();
            CompleteIfDrainedLocked();
            SignalOthersDrainedLocked();
            AssertInvariants();
        }

        Apply(in effects);
        CompleteAll(flushed);
        return next;
    }

    /// <summary>ItemLedger.End for every submission of a batch that ran, at once, by outcome.</summary>
    private void EndInLedgerLocked(PendingBatch<TItem, TResult> batch)
    {
        System.Diagnostics.Debug.Assert(
            batch.Submissions == batch.SucceededCount + batch.FailedCount + batch.CutCount,
            $"A batch of {batch.Submissions} submissions ended {batch.SucceededCount} + {batch.FailedCount} + {batch.CutCount}.");
        _ledger.InFlight -= batch.Submissions;
        _ledger.Succeeded += batch.SucceededCount;
        _ledger.Failed += batch.FailedCount;
        _ledger.Dropped += batch.CutCount;
    }

    private void RecycleLocked(PendingBatch<TItem, TResult> batch)
    {
        batch.Reset();
        // Keep as many batches as a full queue can hold (bounded), so a steady stream allocates none.
        var retained = Math.Min(1024, (_options.QueueCapacity / _options.MaxBatchSize) + _options.MaxDegreeOfParallelism + 2);
        if (_spareBatches.Count < retained)
        {
            _spareBatches.Push(batch);
        }
    }
}
