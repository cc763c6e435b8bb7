using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <content>
/// The end of the pool: <see cref="Complete"/> (stop intake), <see cref="DisposeAsync"/> (drain within the drain timeout,
/// cut the rest, stop every agent), and a disposal called from inside the pool's own work.
/// </content>
public sealed partial class AgentPool<TAgent>
{
    // Guarded by _gate. _drainCut: the drain timeout passed and what was left was dropped or cancelled. _stopped: the
    // agents are being stopped; nothing spawns any more. Self-disposal (DisposeAsync called from inside a request): how
    // many such calls wait, and the task they return.
    private bool _drainCut;
    private bool _stopped;
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    /// <summary>
    /// Stops intake: later requests and warm-ups throw <see cref="InvalidOperationException"/>; queued and running requests
    /// still end normally (an attempt of a resilience pipeline included), and <see cref="Completion"/> completes when they
    /// have. The agents stay up until <see cref="DisposeAsync"/>. Idempotent.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_lifecycle.TryStopIntake())
            {
                SignalLocked();
                AssertInvariants();
            }
        }
    }

    /// <summary>
    /// Stops intake (later calls throw <see cref="ObjectDisposedException"/>), lets queued and in-flight requests finish
    /// (until <see cref="ComponentOptions.DrainTimeout"/>, after which queued ones are dropped and running ones cancelled,
    /// each reported with <see cref="DropReason.DrainTimeout"/>), then stops every agent, including those still starting.
    /// Idempotent: every call returns the same task.
    /// </summary>
    /// <returns>A task that completes when every agent has been stopped (called from inside a request of this pool: when
    /// the other requests have ended, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside a request.</b> An operation of <see cref="ExecuteAsync{TResult}(Func{TAgent, CancellationToken, ValueTask{TResult}}, string?, CancellationToken)"/> (or an agent's
    /// <see cref="IAgent.SendAsync"/>, or anything on their async flow) that awaits the pool's disposal would wait for its
    /// own request forever. Such a call is detected (the flow of each request's operation is marked as the pool's) and
    /// behaves differently in one point only: it starts the disposal as usual (intake stops, queued requests are served,
    /// <see cref="ComponentOptions.DrainTimeout"/> applies to every request, the caller's included), but the task it
    /// returns completes once every request in flight has ended except the requests waiting in such a
    /// <c>DisposeAsync</c> (counted per call, so that two requests disposing the pool at once do not wait for each
    /// other), and no queued request can still be served without them (nothing queued, or no agent starting). The
    /// agents are stopped in the background once the calling requests have ended too.</para>
    /// <para><b>Called from an agent factory</b> (or anything on the async flow of a spawn, such as
    /// <see cref="AgentPoolOptions.SharedContextFactory"/>): the disposal waits for every spawn in flight, the calling one
    /// included, so such a call starts the disposal and returns a completed task at once; the agent being created joins
    /// the pool's stop like any agent that finishes starting during disposal.</para>
    /// <para>Calls from outside (the first or later ones) return the full disposal: it completes only when every
    /// request, the ones that called <c>DisposeAsync</c> included, has ended and every agent has been stopped.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromSpawn = AmbientComponent<SpawnScope>.IsInside(_spawnScope);
        var fromInside = !fromSpawn && AmbientComponent<AgentPool<TAgent>>.IsInside(this);
        TaskCompletionSource? started;
        Task disposal;
        Task? othersDrained = null;
        lock (_gate)
        {
            disposal = _lifecycle.BeginDisposal(out started);
            if (fromInside)
            {
                _selfDisposers++;
                othersDrained = (_othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            SignalLocked();
            AssertInvariants();
        }

        if (started is not null)
        {
            _ = DisposeCoreAsync(started);
        }

        // From an agent factory: the disposal waits for the spawn that called it, so waiting here could never end.
        return fromSpawn ? default : new ValueTask(othersDrained ?? disposal);
    }

    /// <summary>Completes what has come to its end; called under the lock after every change of the counters it reads.</summary>
    private void SignalLocked()
    {
        if (!_lifecycle.IsOpen && _ledger.Queued == 0 && _ledger.InFlight == 0)
        {
            _lifecycle.SetCompleted();
        }

        // Requests disposing the pool from inside: done once every other request has ended and no queued request can be
        // served without them (an agent starting would serve it; without one, only a caller's agent can).
        if (_othersDrained is { } othersDrained && _ledger.InFlight <= _selfDisposers && (_ledger.Queued == 0 || SpawningLocked == 0))
        {
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }

        if (_stopped && SpawningLocked == 0)
        {
            _spawnsDone.TrySetResult();
        }
    }

    private async Task DisposeCoreAsync(TaskCompletionSource completion)
    {
        try
        {
            _idleTimer?.Dispose();
            await Lifecycle.DrainAsync(_lifecycle.Completion, _options.DrainTimeout, _time, CutDrain).ConfigureAwait(false);

            await _stopTokenSource.CancelAsync().ConfigureAwait(false);
            List<Slot> slots;
            List<WarmUpWaiter> warmUps;
            lock (_gate)
            {
                _stopped = true;
                _spawnsPending = 0;
                slots = [.. _agents];
                _agents.Clear();
                _affinity.Clear();
                _idle = 0;
                _busy = 0;
                _freeCapacity = 0;
                warmUps = [.. _warmUps];
                _warmUps.Clear();
                SignalLocked();
                AssertInvariants();
            }

            var disposed = new ObjectDisposedException(GetType().FullName);
            warmUps.ForEach(w => w.Completion.TrySetException(disposed));

            // Agents still starting finish (or are cancelled) and stop themselves; then every agent is stopped at once.
            await _spawnsDone.Task.ConfigureAwait(false);
            var stops = new List<Task>(slots.Count);
            foreach (var slot in slots)
            {
                stops.Add(StopAgentAsync(slot.Agent));
            }

            lock (_gate)
            {
                stops.AddRange(_retirements);
                _retirements.Clear();
            }

            await Task.WhenAll(stops).ConfigureAwait(false);
        }
        finally
        {
            _instruments.Live.Remove(this);
            completion.TrySetResult();
        }
    }

    /// <summary>
    /// The drain timeout passed: drops every waiting request (<see cref="DropReason.DrainTimeout"/>) and cancels the
    /// running ones, whose ends report the same reason. Runs off the disposer's stack (<see cref="Lifecycle.DrainAsync"/>).
    /// </summary>
    private void CutDrain()
    {
        Waiter? queued;
        Waiter? overflow;
        lock (_gate)
        {
            _drainCut = true;
            queued = _queue.DetachAll();
            overflow = _overflow.DetachAll();
            for (var waiter = queued; waiter is not null; waiter = waiter.Next)
            {
                _ledger.EndQueued(DropReason.DrainTimeout);
            }

            for (var waiter = overflow; waiter is not null; waiter = waiter.Next)
            {
                _ledger.EndQueued(DropReason.DrainTimeout);
            }

            SignalLocked();
            AssertInvariants();
        }

        DropChain(queued);
        DropChain(overflow);
        _abortTokenSource.Cancel();
    }

    private void DropChain(Waiter? first)
    {
        while (first is not null)
        {
            // Unlinked as the walk goes, so that a dropped request's waiter does not keep the next ones reachable.
            var next = first.Next;
            first.Next = first.Previous = null;
            Drop(first, DropReason.DrainTimeout);
            first = next;
        }
    }
}
