using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>Stopping the bus: the drain, the drain timeout, and a disposal called from one of the bus's own handlers.</summary>
public sealed partial class CoordinationBus
{
    /// <summary>Stops intake, waits until every handler subscription has drained its mailbox (up to
    /// <see cref="ComponentOptions.DrainTimeout"/>; then handlers are cancelled and every message left, running or
    /// queued, is dropped with <see cref="DropReason.DrainTimeout"/>), then fails pending requests, barrier waits and
    /// waits with <see cref="ObjectDisposedException"/> and ends the dead-letter stream. Idempotent; later calls from
    /// outside the handlers return the same completion.</summary>
    /// <returns>A task that completes when the bus is drained (called from a handler of this bus: when the other
    /// subscriptions have drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from a handler.</b> A handler of this bus (or anything on its async flow) that awaits the bus's
    /// disposal would wait for its own subscription, whose mailbox cannot drain before the handler returns. Such a call
    /// is detected (through the marker each handler loop sets once) and behaves differently in one point only: it starts
    /// the disposal as usual (intake stops, every subscription drains, <see cref="ComponentOptions.DrainTimeout"/>
    /// applies to all of them, the caller's included), but the task it returns completes once every other subscription
    /// has drained: it waits neither for the caller's own subscription nor for the subscriptions whose handlers made
    /// such a call too (so two handlers disposing the bus at once do not wait for each other). The caller's subscription
    /// handles the rest of its mailbox after the handler returns (see <see cref="Subscription.Completion"/>).</para>
    /// <para>Calls from outside the handlers (the first or later ones) return the full disposal: it completes only when
    /// every subscription, those whose handlers called <c>DisposeAsync</c> included, has drained.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var handler = AmbientComponent<Subscription>.Current;
        var fromHandler = handler is not null && ReferenceEquals(handler.Bus, this);
        TaskCompletionSource? created;
        Subscription[] all;
        Task task;
        lock (_registryLock)
        {
            task = _lifecycle.BeginDisposal(out created);

            // Under the lock, with the snapshot, so that a subscription cannot slip in after it (Add checks under the lock).
            if (created is not null && _draining is null)
            {
                StopIntakeLocked();
            }

            all = _draining!;
            if (fromHandler && (_selfDisposers ??= []).Add(handler!))
            {
                _selfDisposersChanged?.TrySetResult();
                _selfDisposersChanged = null;
            }

            AssertInvariants();
        }

        if (created is not null)
        {
            // Cannot fault: DisposeCoreAsync hands its failure to the disposal task every DisposeAsync call returns.
            _ = DisposeCoreAsync(created, all);
        }

        return new ValueTask(fromHandler ? WaitForOtherSubscriptionsAsync(all) : task);
    }

    /// <summary>Empties the routing table and keeps what it held for the drain. Under <see cref="_registryLock"/>, once.</summary>
    private Subscription[] StopIntakeLocked()
    {
        var all = _routing.All;
        _draining = all;
        Volatile.Write(ref _routing, new RoutingTable([]));
        return all;
    }

    /// <summary>Closes every mailbox and returns a task that ends when every handler subscription has drained.</summary>
    private static Task CloseAndDrain(Subscription[] all)
    {
        foreach (var subscription in all)
        {
            subscription.Close();
        }

        var drains = new List<Task>(all.Length);
        foreach (var subscription in all)
        {
            if (subscription.DrainsOnDispose)
            {
                drains.Add(subscription.Completion);
            }
        }

        return Task.WhenAll(drains);
    }

    private async Task SetCompletedWhenDrainedAsync(Task drained)
    {
        await drained.ConfigureAwait(false);
        lock (_registryLock)
        {
            _lifecycle.SetCompleted();
        }
    }

    /// <remarks>When the timed wait itself fails (the clock's timer throws), the drain cannot be bounded: the handlers
    /// are cancelled and what is left dropped at once, as when the timeout passes, and the disposal ends with that
    /// exception, so the disposer learns of it and nothing is left pending.</remarks>
    private async Task DisposeCoreAsync(TaskCompletionSource disposal, Subscription[] all)
    {
        Exception? failure = null;
        var drained = CloseAndDrain(all);
        try
        {
            await Lifecycle.DrainAsync(drained, Options.DrainTimeout, Options.TimeProvider, () => AbandonAll(all)).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            failure = exception;
            AbandonAll(all);
            await drained.ConfigureAwait(false);
        }

        // The pending requests and the registrations on _disposed (waits, barriers) are the bus's own: they complete
        // tasks whose continuations run asynchronously, so this runs no user code and does not throw.
        PendingRequests.Close();
        _disposed.Cancel();
        _deadLetters.Writer.TryComplete();
        Telemetry.Instruments.Live.Remove(this);
        lock (_registryLock)
        {
            _lifecycle.SetCompleted();
        }

        if (failure is null)
        {
            disposal.TrySetResult();
        }
        else
        {
            disposal.TrySetException(failure);
        }
    }

    private static void AbandonAll(Subscription[] all)
    {
        foreach (var subscription in all)
        {
            subscription.Abandon();
        }
    }

    /// <summary>What a DisposeAsync called from a handler returns: the drain of every subscription except those whose
    /// handlers called it (the caller's own cannot drain before the handler returns).</summary>
    private async Task WaitForOtherSubscriptionsAsync(Subscription[] all)
    {
        while (true)
        {
            Task? pending = null;
            Task changed;
            lock (_registryLock)
            {
                foreach (var subscription in all)
                {
                    if (subscription.DrainsOnDispose && !subscription.Completion.IsCompleted && !_selfDisposers!.Contains(subscription))
                    {
                        pending = subscription.Completion;
                        break;
                    }
                }

                changed = (_selfDisposersChanged ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            if (pending is null)
            {
                return;
            }

            // Another handler joining the callers may be the one this waits for: look again then.
            await Task.WhenAny(pending, changed).ConfigureAwait(false);
        }
    }
}
