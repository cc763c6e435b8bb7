using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>
/// Admission: an attempt starts at once when nothing waits and its provider has room; otherwise it waits in the bounded
/// queue (the full-mode decision is <see cref="AdmissionPolicy.Decide"/>'s) until a slot frees and its provider can take it.
/// </summary>
public sealed partial class HttpGate
{
    private ValueTask<GateTicket> AcquireAsync(GateCall call, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<GateTicket>(cancellationToken);
        }

        GateWaiter waiter;
        lock (_lock)
        {
            // Intake has stopped for new calls (RunCoreAsync checks), but a retry of an accepted call belongs to the drain
            // until the drain timeout has passed.
            if (_deadlinePassed)
            {
                throw _lifecycle.CreateClosedException(Name);
            }

            var now = Now();
            if (_queue.Count == 0 && _waitingForRoom.Count == 0 && call.Provider.CanAdmit(call.Weight, now)
                && TryAdmitLocked(call, now) is { } ticket)
            {
                AssertInvariants();
                return new ValueTask<GateTicket>(ticket);
            }

            var admission = AdmissionPolicy.Decide(_queue.Count, _options.QueueCapacity, _options.FullMode, _waitingForRoom.Count);
            if (admission == Admission.Reject)
            {
                call.DroppedBy = DropReason.Rejected;
                return ValueTask.FromException<GateTicket>(new ItemDroppedException(DropReason.Rejected));
            }

            if (admission == Admission.EvictOldest)
            {
                DropLocked(_queue.First!, DropReason.DroppedOldest);
            }
            else if (admission == Admission.EvictNewest)
            {
                DropLocked(_queue.Last!, DropReason.DroppedNewest);
            }

            waiter = new GateWaiter(call, ++_sequence, cancellationToken);
            EnqueueLocked(waiter, admission == Admission.Wait ? _waitingForRoom : _queue);
            DispatchLocked(now);
            AssertInvariants();
        }

        return WaitAsync(waiter, cancellationToken);
    }

    private static async ValueTask<GateTicket> WaitAsync(GateWaiter waiter, CancellationToken cancellationToken)
    {
        // Registered outside the lock: a token cancelled meanwhile runs the callback here, and the callback takes the lock.
        var registration = cancellationToken.UnsafeRegister(static s => ((GateWaiter)s!).Call.Gate.OnWaiterCancelled((GateWaiter)s!), waiter);
        try
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
        }

        return waiter.Ticket!;
    }

    private void OnWaiterCancelled(GateWaiter waiter)
    {
        lock (_lock)
        {
            // Not listed: admitted or dropped first, and that outcome stands.
            if (!waiter.IsListed)
            {
                return;
            }

            RemoveWaitingLocked(waiter);
            waiter.Completion.TrySetCanceled(waiter.CancellationToken);
            PromoteLocked();
            DispatchLocked(Now());
            AssertInvariants();
        }
    }

    /// <summary>Ends an admitted attempt: its window permits are scheduled back and its slot goes to the best waiting call.</summary>
    private void Release(GateTicket ticket)
    {
        var provider = ticket.Provider;
        lock (_lock)
        {
            var now = Now();
            if (!provider.IsDisposed)
            {
                provider.ScheduleReturn(ticket, now);
                ArmTimerLocked(provider, now);
            }

            // Uncounted before the slot is offered again, both under the lock: the other order once let another call be
            // admitted and counted before this one was uncounted, and the in-flight statistics over-reported.
            provider.InFlight--;
            _running--;
            DispatchLocked(now);
            SignalIfDrainedLocked();
            AssertInvariants();
        }
    }

    /// <summary>Admits waiting attempts while a slot is free and some provider can take its best one.</summary>
    private void DispatchLocked(TimeSpan now)
    {
        while (_queue.Count > 0 && _running < _options.MaxDegreeOfParallelism)
        {
            GateWaiter? best = null;
            foreach (var provider in _providerList)
            {
                if (provider.Waiting.Min is { } head && provider.CanAdmit(head.Call.Weight, now)
                    && (best is null || GateWaiter.ByPriority.Compare(head, best) < 0))
                {
                    best = head;
                }
            }

            if (best is null || TryAdmitLocked(best.Call, now) is not { } ticket)
            {
                return;
            }

            RemoveWaitingLocked(best);
            best.Ticket = ticket;
            best.Completion.TrySetResult();
            PromoteLocked();
        }
    }

    /// <summary>Takes a slot and the provider's window permits for an attempt that <see cref="GateProvider.CanAdmit"/> allowed.</summary>
    private GateTicket? TryAdmitLocked(GateCall call, TimeSpan now)
    {
        if (_running >= _options.MaxDegreeOfParallelism)
        {
            return null;
        }

        var provider = call.Provider;
        var ticket = new GateTicket(provider, now);
        provider.TakePermits(ticket, call.Weight, now);
        ArmTimerLocked(provider, now);
        provider.InFlight++;
        provider.Admitted++;
        _running++;
        _admitted++;
        if (_running > _peakRunning)
        {
            _peakRunning = _running;
        }

        // A retry admitted after an earlier attempt was dropped (a pipeline that handles ItemDroppedException) is not dropped.
        call.DroppedBy = null;
        return ticket;
    }

    /// <summary>Queues a waiting attempt: in the queue (admissible) or, in <see cref="QueueFullMode.Wait"/> mode, waiting for room.</summary>
    private void EnqueueLocked(GateWaiter waiter, WaitList<GateWaiter> list)
    {
        list.AddLast(waiter);
        if (ReferenceEquals(list, _queue))
        {
            waiter.Call.Provider.Waiting.Add(waiter);
        }

        // From the call's hands into the queue: the reverse of ItemLedger.Start.
        _ledger.InFlight--;
        _ledger.Queued++;
    }

    /// <summary>Takes a waiting attempt out of the queue or the room wait, back into its call's hands (admitted, cancelled or dropped).</summary>
    private void RemoveWaitingLocked(GateWaiter waiter)
    {
        if (_queue.Remove(waiter))
        {
            waiter.Call.Provider.Waiting.Remove(waiter);
        }
        else
        {
            _waitingForRoom.Remove(waiter);
        }

        _ledger.Start();
    }

    /// <summary>Moves attempts waiting for room into the queue, first come first in, while it has room.</summary>
    private void PromoteLocked()
    {
        while (_queue.Count < _options.QueueCapacity && _waitingForRoom.RemoveFirst() is { } waiter)
        {
            _queue.AddLast(waiter);
            waiter.Call.Provider.Waiting.Add(waiter);
        }
    }

    /// <summary>Ends a waiting attempt with <see cref="ItemDroppedException"/>; its call reports the drop when it ends.</summary>
    private void DropLocked(GateWaiter waiter, DropReason reason)
    {
        RemoveWaitingLocked(waiter);
        waiter.Call.DroppedBy = reason;
        waiter.Completion.TrySetException(new ItemDroppedException(reason));
    }
}
