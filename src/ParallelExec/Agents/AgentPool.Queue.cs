using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <content>
/// Waiting for an agent: admission of a request that finds no free agent (the library's one full-mode decision,
/// <see cref="AdmissionPolicy.Decide"/>), the FIFO of waiting requests, the overflow of callers waiting for room
/// (<see cref="QueueFullMode.Wait"/>), cancellation of a waiting request, and the hand-off of freed agents.
/// </content>
public sealed partial class AgentPool<TAgent>
{
    // Guarded by _gate. _queue holds at most QueueCapacity requests waiting for an agent; _overflow holds, in Wait mode,
    // the callers waiting for room in _queue. Both count as queued in the ledger.
    private readonly WaitList<Waiter> _queue = new();
    private readonly WaitList<Waiter> _overflow = new();

    /// <summary>
    /// Takes an agent for a request, or queues the request until one is free. A new request (<paramref name="admitted"/>
    /// false) is counted as submitted here; an admitted one (an attempt after the first) goes back to waiting.
    /// </summary>
    /// <remarks>
    /// The ledger after each outcome: an agent, in flight; <see cref="ItemDroppedException"/> or
    /// <see cref="OperationCanceledException"/>, ended (dropped, rejected or cancelled); <see cref="AgentSpawnException"/>,
    /// in flight (the caller ends it as failed); the pool closed to a new request, not counted.
    /// </remarks>
    private ValueTask<Slot> AcquireAsync(string? affinityKey, object item, bool admitted, CancellationToken cancellationToken)
    {
        Slot? slot = null;
        Waiter? waiter = null;
        Waiter? evicted = null;
        DropReason? refused = null;
        var evictReason = DropReason.DroppedOldest;
        var spawns = 0;
        lock (_gate)
        {
            if (!admitted)
            {
                _lifecycle.ThrowIfNotOpen(Name);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                refused = DropReason.Cancelled;
            }
            else if (admitted && _drainCut)
            {
                // An attempt after the drain timeout cut the rest: it would wait for agents that are being stopped.
                refused = DropReason.DrainTimeout;
            }
            else if ((slot = PickLocked(affinityKey)) is not null)
            {
                TakeLocked(slot);
                if (!admitted)
                {
                    _ledger.Accept(queued: false);
                }

                // Taking an idle agent may leave the pool below MinIdle: the refill starts now, in the background.
                spawns = _options.MinIdle > 0 ? PlanSpawnsLocked() : 0;
            }
            else
            {
                var admission = AdmissionPolicy.Decide(_queue.Count, _options.QueueCapacity, _options.FullMode, _overflow.Count);
                evicted = admission switch
                {
                    Admission.EvictOldest => _queue.RemoveFirst(),
                    Admission.EvictNewest => _queue.RemoveLast(),
                    _ => null,
                };
                if (evicted is not null)
                {
                    evictReason = AdmissionPolicy.ToDropReason(admission);
                    _ledger.EndQueued(evictReason);
                }

                if (admission == Admission.Reject)
                {
                    refused = DropReason.Rejected;
                }
                else
                {
                    waiter = new Waiter(this, affinityKey, item, Telemetry.ActivitySource.HasListeners() ? Activity.Current : null);
                    (admission == Admission.Wait ? _overflow : _queue).AddLast(waiter);
                    if (admitted)
                    {
                        _ledger.InFlight--;
                        _ledger.Queued++;
                    }
                    else
                    {
                        _ledger.Accept(queued: true);
                    }

                    spawns = PlanSpawnsLocked();
                }
            }

            if (refused is { } ended)
            {
                // Ends here without queueing: rejected, cancelled by its caller, or cut by the drain timeout.
                if (admitted)
                {
                    _ledger.InFlight--;
                }
                else
                {
                    _ledger.Submitted++;
                }

                _ledger.CountDrop(ended);
                SignalLocked();
            }

            AssertInvariants();
        }

        if (!admitted)
        {
            _reporter.Submitted();
        }

        if (slot is not null)
        {
            RecordWait(0);
            StartSpawns(spawns);
            return new ValueTask<Slot>(slot);
        }

        if (evicted is not null)
        {
            Drop(evicted, evictReason);
        }

        if (refused is { } reason)
        {
            if (reason == DropReason.Cancelled)
            {
                return ValueTask.FromCanceled<Slot>(cancellationToken);
            }

            _reporter.Dropped(reason, item, affinityKey);
            return ValueTask.FromException<Slot>(new ItemDroppedException(reason));
        }

        StartSpawns(spawns);
        return WaitForAgentAsync(waiter!, cancellationToken);
    }

    private async ValueTask<Slot> WaitForAgentAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        var started = _instruments.WaitDuration.Enabled ? _time.GetTimestamp() : 0;
        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.UnsafeRegister(
                static (state, token) => ((Waiter)state!).Pool.CancelWaiter((Waiter)state!, token), waiter);
        }

        try
        {
            var slot = await waiter.Completion.Task.ConfigureAwait(false);
            if (started != 0)
            {
                RecordWait(_time.GetElapsedTime(started).TotalSeconds);
            }

            return slot;
        }
        finally
        {
            await waiter.Registration.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void RecordWait(double seconds)
    {
        if (_instruments.WaitDuration.Enabled)
        {
            _instruments.WaitDuration.Record(seconds, _reporter.NameTag);
        }
    }

    /// <summary>Removes a waiting request whose caller cancelled it; the caller gets <see cref="OperationCanceledException"/>.</summary>
    private void CancelWaiter(Waiter waiter, CancellationToken cancellationToken)
    {
        List<(Waiter, Slot)>? handoffs = null;
        var spawns = 0;
        bool removed;
        lock (_gate)
        {
            removed = _queue.Remove(waiter) || _overflow.Remove(waiter);
            if (removed)
            {
                _ledger.EndQueued(DropReason.Cancelled);
                DispatchLocked(ref handoffs);
                spawns = PlanSpawnsLocked();
                SignalLocked();
                AssertInvariants();
            }
        }

        if (removed)
        {
            waiter.Completion.TrySetCanceled(cancellationToken);
            HandOff(handoffs);
            StartSpawns(spawns);
        }
    }

    /// <summary>
    /// Serves waiting requests in FIFO order while agents have room (a request bound to a busy agent is skipped, not a
    /// barrier), moving callers waiting for room into the queue as it frees. Each served request moves into flight.
    /// </summary>
    private void DispatchLocked(ref List<(Waiter, Slot)>? handoffs)
    {
        while (true)
        {
            for (var waiter = _queue.First; waiter is not null && _freeCapacity > 0;)
            {
                var next = waiter.Next;
                var slot = PickLocked(waiter.AffinityKey);
                if (slot is not null)
                {
                    _queue.Remove(waiter);
                    TakeLocked(slot);
                    _ledger.Start();
                    (handoffs ??= []).Add((waiter, slot));
                }

                waiter = next;
            }

            var promoted = false;
            while (_queue.Count < _options.QueueCapacity && _overflow.RemoveFirst() is { } room)
            {
                _queue.AddLast(room);
                promoted = true;
            }

            if (!promoted || _freeCapacity == 0)
            {
                return;
            }
        }
    }

    private static void HandOff(List<(Waiter Waiter, Slot Slot)>? handoffs)
    {
        if (handoffs is null)
        {
            return;
        }

        foreach (var (waiter, slot) in handoffs)
        {
            waiter.Completion.TrySetResult(slot);
        }
    }

    /// <summary>Reports a waiting request dropped by the queue's policy or the drain timeout, on its own span, and fails its caller.</summary>
    private void Drop(Waiter waiter, DropReason reason)
    {
        var current = Activity.Current;
        var onItsSpan = waiter.Span is not null && !ReferenceEquals(current, waiter.Span);
        if (onItsSpan)
        {
            Activity.Current = waiter.Span;
        }

        try
        {
            _reporter.Dropped(reason, waiter.Item, waiter.AffinityKey);
        }
        finally
        {
            if (onItsSpan)
            {
                Activity.Current = current;
            }
        }

        waiter.Completion.TrySetException(new ItemDroppedException(reason));
    }

    /// <summary>A request waiting for an agent (in the queue) or for room in the queue (in the overflow).</summary>
    private sealed class Waiter(AgentPool<TAgent> pool, string? affinityKey, object item, Activity? span) : WaitListNode<Waiter>
    {
        public readonly AgentPool<TAgent> Pool = pool;
        public readonly string? AffinityKey = affinityKey;
        public readonly object Item = item;

        /// <summary>The request's span (captured only when someone listens), which gets the event if it is dropped.</summary>
        public readonly Activity? Span = span;
        public readonly TaskCompletionSource<Slot> Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public CancellationTokenRegistration Registration;
    }
}
