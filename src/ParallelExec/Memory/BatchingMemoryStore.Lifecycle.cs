using System.Diagnostics;
using ParallelExec.Batching;
using ParallelExec.Internal;

namespace ParallelExec.Memory;

/// <summary>The store's lifecycle and ledger: intake, per-call accounting, completion, draining and the drain-timeout cut.</summary>
public sealed partial class BatchingMemoryStore
{
    private readonly object _gate = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly ItemLedger _ledger = new();

    // Cancelled once, when the drain timeout passes: every call still waiting or running is cut.
    private readonly CancellationTokenSource _cut = new();

    // Calls between Enter and Exit, listings and empty bulk calls included (they carry no ledger item). Guarded by _gate.
    private int _openCalls;

    /// <inheritdoc/>
    public Task Completion => _lifecycle.Completion;

    /// <summary>
    /// Stops intake and flushes the open batches at once: later calls throw <see cref="InvalidOperationException"/>
    /// (<see cref="ObjectDisposedException"/> once disposed); calls already accepted still run without waiting for
    /// <see cref="BatchingMemoryStoreOptions.MaxDelay"/>, and <see cref="Completion"/> ends when the last has been
    /// written or read by the inner store. Idempotent.
    /// </summary>
    public void Complete()
    {
        bool stopped;
        lock (_gate)
        {
            stopped = _lifecycle.TryStopIntake();
            if (stopped)
            {
                CompleteIfDrainedLocked();
            }
        }

        if (stopped)
        {
            FlushBatchers();
        }
    }

    /// <summary>
    /// Stops intake, flushes the open batches at once and waits for every accepted call to end; when
    /// <see cref="ComponentOptions.DrainTimeout"/> passes first, cuts what is left (its callers get an
    /// <see cref="ItemDroppedException"/> with <see cref="DropReason.DrainTimeout"/>, and each key is reported to
    /// <see cref="BatchingMemoryStoreOptions.OnDropped"/>). Idempotent: later calls return the same disposal; later
    /// operations throw <see cref="ObjectDisposedException"/>. The inner store is not disposed.
    /// </summary>
    /// <returns>A task that completes when every accepted call has ended and both batchers have stopped.</returns>
    public ValueTask DisposeAsync()
    {
        TaskCompletionSource disposal;
        lock (_gate)
        {
            if (!_lifecycle.TryBeginDispose())
            {
                return new ValueTask(_lifecycle.DisposeTask!);
            }

            disposal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _lifecycle.DisposeTask = disposal.Task;
            CompleteIfDrainedLocked();
        }

        _ = DisposeCoreAsync(disposal);
        return new ValueTask(disposal.Task);
    }

    private async Task DisposeCoreAsync(TaskCompletionSource disposal)
    {
        try
        {
            // Disposing the batchers flushes their open batches now (nobody else can join them) and drains them.
            var batchers = Task.WhenAll(_writes.DisposeAsync().AsTask(), _reads.DisposeAsync().AsTask());
            await Lifecycle.DrainAsync(_lifecycle.Completion, _options.DrainTimeout, _options.TimeProvider, _cut.Cancel).ConfigureAwait(false);
            await batchers.ConfigureAwait(false);
            _telemetry.Instruments.Live.Remove(this);
            disposal.TrySetResult();
        }
        catch (Exception ex)
        {
            disposal.TrySetException(ex);
        }
    }

    /// <summary>
    /// Sends the open batches now, after intake has stopped. A call admitted before the stop but submitted to its batcher
    /// after this flush sees the stop (<see cref="FlushIfStopped"/>) and flushes again, so no accepted call waits for
    /// <see cref="BatchingMemoryStoreOptions.MaxDelay"/> once <see cref="Complete"/> has been called.
    /// </summary>
    private void FlushBatchers()
    {
        FlushBatcher(_writes);
        FlushBatcher(_reads);
    }

    /// <summary>Seals <paramref name="batcher"/>'s open batch now, if it has one.</summary>
    private static void FlushBatcher<TItem, TResult>(BatchProcessor<TItem, TResult> batcher)
        where TItem : notnull
    {
        try
        {
            // Only the sealing matters here; the returned wait (for the flushed batches to end) is not needed: each
            // caller awaits its own item. It cannot fault: FlushAsync's waiters are only ever completed with success.
            _ = batcher.FlushAsync(CancellationToken.None);
        }
        catch (ObjectDisposedException)
        {
            // DisposeAsync has begun: disposing the batchers flushes them.
        }
    }

    /// <summary>Called after a single call has joined its batch: flushes it at once if intake stopped meanwhile.</summary>
    private void FlushIfStopped()
    {
        bool open;
        lock (_gate)
        {
            open = _lifecycle.IsOpen;
        }

        if (!open)
        {
            FlushBatchers();
        }
    }

    /// <summary>Admits one call carrying <paramref name="keys"/> ledger items, or throws when intake has stopped.</summary>
    /// <param name="operation">The operation, for telemetry.</param>
    /// <param name="keys">How many keys it carries.</param>
    /// <param name="queued">Whether it waits in a batcher (a single get or set) rather than going straight to the inner store.</param>
    /// <returns>The call, to hand to <see cref="Exit"/> or <see cref="ExitFailed"/> exactly once.</returns>
    private Call Enter(MemoryOperation operation, int keys, bool queued)
    {
        lock (_gate)
        {
            _lifecycle.ThrowIfNotOpen(Name);
            for (var i = 0; i < keys; i++)
            {
                _ledger.Accept(queued);
            }

            _openCalls++;
            AssertInvariants();
        }

        return new Call(operation, keys, queued, _telemetry.Begin(operation, keys));
    }

    /// <summary>Ends a call: with <paramref name="outcome"/>, or dropped for <paramref name="dropped"/>.</summary>
    private void Exit(in Call call, ItemOutcome outcome, DropReason? dropped)
    {
        lock (_gate)
        {
            for (var i = 0; i < call.Keys; i++)
            {
                if (call.Queued)
                {
                    // A batched call counts as queued until its bulk call has answered it (the batcher does not say
                    // when its batch starts), so it leaves the queue and ends in one step.
                    _ledger.Start();
                }

                if (dropped is { } reason)
                {
                    _ledger.InFlight--;
                    _ledger.CountDrop(reason);
                }
                else
                {
                    _ledger.End(outcome);
                }
            }

            _openCalls--;
            CompleteIfDrainedLocked();
            AssertInvariants();
        }

        _telemetry.End(call.Operation, call.Keys, dropped is null ? outcome : ItemOutcome.Cancelled, call.Started);
    }

    /// <summary>
    /// Ends a call that threw. Returns the exception to throw instead when the drain timeout cut the call (an
    /// <see cref="ItemDroppedException"/>, after reporting each of its keys), or <see langword="null"/> to rethrow.
    /// </summary>
    private ItemDroppedException? ExitFailed(in Call call, Exception exception, CancellationToken callerToken, string namespaceName, IReadOnlyList<string> keys)
    {
        if (exception is ItemDroppedException || (exception is OperationCanceledException && _cut.IsCancellationRequested && !callerToken.IsCancellationRequested))
        {
            Exit(call, ItemOutcome.Cancelled, DropReason.DrainTimeout);
            foreach (var key in keys)
            {
                _telemetry.Reporter.Dropped(DropReason.DrainTimeout, key, namespaceName);
            }

            return exception is ItemDroppedException ? null : new ItemDroppedException(DropReason.DrainTimeout);
        }

        // A call the disposal turned away (the batchers stopped between its admission and its submission) ends
        // cancelled, like one its caller cancelled.
        Exit(call, exception is OperationCanceledException or ObjectDisposedException ? ItemOutcome.Cancelled : ItemOutcome.Failed, dropped: null);
        return null;
    }

    /// <summary>The token a call passes to the inner store: the caller's, linked with the drain-timeout cut.</summary>
    private CancellationTokenSource? LinkToCut(CancellationToken callerToken, out CancellationToken token)
    {
        if (!callerToken.CanBeCanceled)
        {
            token = _cut.Token;
            return null;
        }

        var linked = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _cut.Token);
        token = linked.Token;
        return linked;
    }

    /// <summary>Completes <see cref="Completion"/> once intake has stopped and no accepted call is left.</summary>
    private void CompleteIfDrainedLocked()
    {
        if (!_lifecycle.IsOpen && _openCalls == 0)
        {
            _lifecycle.SetCompleted();
        }
    }

    /// <summary>Checks, under <c>_gate</c>, that the ledger balances and that no key is accounted for without an open call.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        _ledger.AssertBalanced();
        Debug.Assert(_openCalls >= 0, $"Negative open calls: {_openCalls}.");
        Debug.Assert(_openCalls > 0 || (_ledger.Queued == 0 && _ledger.InFlight == 0), $"Keys accounted for without an open call: {_ledger.Snapshot()}.");
    }

    /// <summary>One admitted call: what <see cref="Exit"/> needs to end it.</summary>
    private readonly record struct Call(MemoryOperation Operation, int Keys, bool Queued, long Started);
}
