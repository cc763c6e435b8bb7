using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Files;

/// <content>
/// One batch call, from the caller's enumerable to the results: the inputs go to the shared <see cref="WorkerPool"/>
/// (<see cref="WorkerPool.ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>
/// in completion order), and every input is in the ledger from the moment it is taken until its operation ends or the
/// batch ends without running it. Also the drain of a disposal, which cuts the batches still running.
/// </content>
public sealed partial class ParallelFiles
{
    private IAsyncEnumerable<FileResult> RunBatchAsync<TInput>(
        IEnumerable<TInput> inputs, FileOperation kind, Func<TInput, CancellationToken, ValueTask<FileResult>> operation, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _lifecycle.ThrowIfNotOpen(Name);
        }

        return RunBatchCoreAsync(inputs, kind, operation, cancellationToken);
    }

    private async IAsyncEnumerable<FileResult> RunBatchCoreAsync<TInput>(
        IEnumerable<TInput> inputs, FileOperation kind, Func<TInput, CancellationToken, ValueTask<FileResult>> operation,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var batch = new FileBatch<TInput>(cancellationToken);
        lock (_gate)
        {
            _lifecycle.ThrowIfNotOpen(Name);
            _batches.AddLast(batch);
        }

        var span = Telemetry.StartSpan("parallelexec.files.batch", Name);
        span?.SetTag(TelemetryTagNames.Operation, OperationName(kind));
        var finished = false;
        try
        {
            var results = GetPool().ProcessAsync(
                Take(batch, inputs), (entry, token) => RunOneAsync(batch, entry, kind, operation, token), ResultOrder.Completion, batch.Token);
            await foreach (var result in results.ConfigureAwait(false))
            {
                yield return result;
            }

            if (batch.SourceFailure is { } failure)
            {
                Telemetry.RecordFailure(span, failure);
                ExceptionDispatchInfo.Throw(failure);
            }

            finished = true;
        }
        finally
        {
            EndBatch(batch);
            if (span is not null)
            {
                if (!finished && span.Status == ActivityStatusCode.Unset)
                {
                    span.SetStatus(ActivityStatusCode.Error, "The batch was cancelled or stopped before its end.");
                }

                span.Stop();
            }
        }
    }

    /// <summary>
    /// The caller's inputs as the pool takes them, each counted submitted and pending on the way. A failure of the caller's
    /// enumerable ends the inputs; the inputs taken before it still run and report, then the batch rethrows it.
    /// </summary>
    private IEnumerable<FileEntry<TInput>> Take<TInput>(FileBatch<TInput> batch, IEnumerable<TInput> inputs)
    {
        using var enumerator = TryGetEnumerator(batch, inputs);
        while (enumerator is not null && TryMoveNext(batch, enumerator, out var input))
        {
            var takenAt = _reporter.Instruments.WaitDuration.Enabled ? _options.TimeProvider.GetTimestamp() : 0;
            long sequence;
            lock (_gate)
            {
                _ledger.Accept(queued: true);
                sequence = batch.AddPending(input);
                AssertInvariants();
            }

            _reporter.Submitted();
            yield return new FileEntry<TInput>(sequence, input, takenAt);
        }
    }

    private static IEnumerator<TInput>? TryGetEnumerator<TInput>(FileBatch batch, IEnumerable<TInput> inputs)
    {
        try
        {
            return inputs.GetEnumerator();
        }
        catch (Exception exception)
        {
            batch.SourceFailure = exception;
            return null;
        }
    }

    private static bool TryMoveNext<TInput>(FileBatch batch, IEnumerator<TInput> enumerator, out TInput input)
    {
        try
        {
            if (enumerator.MoveNext())
            {
                input = enumerator.Current;
                return true;
            }
        }
        catch (Exception exception)
        {
            // For example a directory that vanished during a walk.
            batch.SourceFailure = exception;
        }

        input = default!;
        return false;
    }

    /// <summary>Runs one file operation on a worker: moves it into flight, runs it, and ends it in the ledger and metrics.</summary>
    private ValueTask<FileResult> RunOneAsync<TInput>(
        FileBatch<TInput> batch, FileEntry<TInput> entry, FileOperation kind, Func<TInput, CancellationToken, ValueTask<FileResult>> operation, CancellationToken token)
    {
        lock (_gate)
        {
            if (batch.Start(entry.Sequence))
            {
                _ledger.Start();
            }

            AssertInvariants();
        }

        var time = _options.TimeProvider;
        var startedAt = time.GetTimestamp();
        if (entry.TakenAt != 0)
        {
            _reporter.Instruments.WaitDuration.Record(time.GetElapsedTime(entry.TakenAt, startedAt).TotalSeconds, _reporter.NameTag);
        }

        ValueTask<FileResult> pending;
        try
        {
            pending = operation(entry.Input, token);
        }
        catch (Exception exception)
        {
            EndThrown(batch, entry.Input, kind, exception, startedAt);
            throw;
        }

        return pending.IsCompletedSuccessfully
            ? new ValueTask<FileResult>(EndOne(pending.Result, startedAt))
            : AwaitOneAsync(batch, entry.Input, kind, pending, startedAt);
    }

    private async ValueTask<FileResult> AwaitOneAsync<TInput>(FileBatch batch, TInput input, FileOperation kind, ValueTask<FileResult> pending, long startedAt)
    {
        try
        {
            return EndOne(await pending.ConfigureAwait(false), startedAt);
        }
        catch (Exception exception)
        {
            EndThrown(batch, input, kind, exception, startedAt);
            throw;
        }
    }

    /// <summary>Ends an operation that produced its result (a failure included: a bad file is a result, not an exception).</summary>
    private FileResult EndOne(FileResult result, long startedAt)
    {
        lock (_gate)
        {
            _ledger.End(result.Succeeded ? ItemOutcome.Succeeded : ItemOutcome.Failed);
            AssertInvariants();
        }

        if (!result.Succeeded)
        {
            // The failure is in the caller's result; the counter records it too.
            _reporter.CountFailure();
        }

        var operation = OperationName(result.Operation);
        if (_bytesCounter.Enabled && result.BytesProcessed > 0)
        {
            _bytesCounter.Add(result.BytesProcessed, new(TelemetryTagNames.Operation, operation), _reporter.NameTag);
        }

        RecordRunDuration(operation, result.Succeeded ? Telemetry.Succeeded : Telemetry.Failed, startedAt);
        return result;
    }

    /// <summary>
    /// Ends an operation that threw: its token was cancelled (the caller cancelled or stopped early, or a drain timeout
    /// cut the batch, which counts as dropped); anything else would be a bug in an operation, counted as failed.
    /// </summary>
    private void EndThrown(FileBatch batch, object? input, FileOperation kind, Exception exception, long startedAt)
    {
        var cancelled = exception is OperationCanceledException;
        bool cut;
        lock (_gate)
        {
            cut = cancelled && batch.CutByDrainTimeout;
            if (cut)
            {
                _ledger.EndInFlight(DropReason.DrainTimeout);
            }
            else
            {
                _ledger.End(cancelled ? ItemOutcome.Cancelled : ItemOutcome.Failed);
            }

            AssertInvariants();
        }

        if (cut)
        {
            _reporter.Dropped(DropReason.DrainTimeout, input);
        }
        else if (!cancelled)
        {
            _reporter.CountFailure();
        }

        RecordRunDuration(OperationName(kind), cancelled ? Telemetry.Cancelled : Telemetry.Failed, startedAt);
    }

    private void RecordRunDuration(string operation, string outcome, long startedAt)
    {
        var runDuration = _reporter.Instruments.RunDuration;
        if (runDuration.Enabled)
        {
            runDuration.Record(_options.TimeProvider.GetElapsedTime(startedAt).TotalSeconds,
                _reporter.NameTag, new(TelemetryTagNames.Outcome, outcome), new(TelemetryTagNames.Operation, operation));
        }
    }

    /// <summary>
    /// Ends a batch: whatever it took and never started ends now, cancelled (the caller cancelled or stopped early) or
    /// dropped (a drain timeout cut it).
    /// </summary>
    private void EndBatch(FileBatch batch)
    {
        List<object?> neverStarted;
        bool cut;
        lock (_gate)
        {
            _batches.Remove(batch);
            cut = batch.CutByDrainTimeout;
            neverStarted = batch.TakePending();
            foreach (var _ in neverStarted)
            {
                _ledger.EndQueued(cut ? DropReason.DrainTimeout : DropReason.Cancelled);
            }

            CompleteIfDrainedLocked();
            AssertInvariants();
        }

        if (cut)
        {
            foreach (var input in neverStarted)
            {
                _reporter.Dropped(DropReason.DrainTimeout, input);
            }
        }
    }

    private WorkerPool GetPool()
    {
        lock (_poolGate)
        {
            // The queue holds one look-ahead window of a batch (twice the workers): more concurrent batches wait for room.
            return _pool ??= new WorkerPool(new WorkerPoolOptions
            {
                MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
                QueueCapacity = 2 * _options.MaxDegreeOfParallelism,
                Name = Name,
                TimeProvider = _options.TimeProvider,
            });
        }
    }

    private void CompleteIfDrainedLocked()
    {
        if (!_lifecycle.IsOpen && _batches.Count == 0)
        {
            _lifecycle.SetCompleted();
        }
    }

    private async Task DrainThenStopAsync(TaskCompletionSource disposed)
    {
        try
        {
            await Lifecycle.DrainAsync(_lifecycle.Completion, _options.DrainTimeout, _options.TimeProvider, CutBatches).ConfigureAwait(false);
            _reporter.Instruments.Live.Remove(this);
            WorkerPool? pool;
            lock (_poolGate)
            {
                pool = _pool;
            }

            if (pool is not null)
            {
                await pool.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            disposed.TrySetResult();
        }
    }

    /// <summary>The drain timeout passed: cancel every batch still running; what it cancels counts as dropped.</summary>
    private void CutBatches()
    {
        var cut = new List<FileBatch>();
        lock (_gate)
        {
            for (var batch = _batches.First; batch is not null; batch = batch.Next)
            {
                batch.CutByDrainTimeout = true;
                cut.Add(batch);
            }
        }

        foreach (var batch in cut)
        {
            batch.Cancel();
        }
    }

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_gate)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>Checks, under the lock, that every file operation is accounted for once.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        _ledger.AssertBalanced();
        Debug.Assert(_lifecycle.IsOpen || !_lifecycle.Completion.IsCompleted || _batches.Count == 0, "A completed instance has no batch left.");
    }

    private static string OperationName(FileOperation operation) => operation switch
    {
        FileOperation.Read => "read",
        FileOperation.Write => "write",
        FileOperation.Copy => "copy",
        FileOperation.Delete => "delete",
        _ => "process",
    };
}
