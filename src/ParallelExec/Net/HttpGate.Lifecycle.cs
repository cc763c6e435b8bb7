using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>The lifecycle: <see cref="Complete"/>, <see cref="Completion"/> and disposal with its drain timeout.</summary>
public sealed partial class HttpGate
{
    // Under _lock. Self-disposal (DisposeAsync called from inside a call): how many such calls wait, and the task they return.
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    /// <summary>
    /// Gets a task that completes when intake has stopped (<see cref="Complete"/> or <see cref="DisposeAsync"/>) and
    /// every accepted call, its retries included, has ended. It does not fault: each call's outcome goes to its caller.
    /// </summary>
    public Task Completion => _lifecycle.Completion;

    /// <summary>
    /// Stops intake: later calls throw <see cref="InvalidOperationException"/>, while accepted calls, waiting ones and
    /// retries included, still run. Idempotent. The gate keeps its timers and client until it is disposed.
    /// </summary>
    public void Complete()
    {
        lock (_lock)
        {
            if (_lifecycle.TryStopIntake())
            {
                SignalIfDrainedLocked();
            }
        }
    }

    /// <summary>
    /// Stops intake, lets waiting and running calls finish (up to <see cref="ComponentOptions.DrainTimeout"/>, after which
    /// waiting calls are dropped with <see cref="DropReason.DrainTimeout"/> and running ones cancelled, each reported to
    /// <see cref="HttpGateOptions.OnDropped"/>), then releases the timers and the client the gate built. Idempotent.
    /// </summary>
    /// <returns>A task that completes when the gate has drained and released its resources (called from inside a call
    /// through this gate: when the other calls have ended, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside a call.</b> A call running through this gate (<see cref="RunAsync{T}"/>'s delegate,
    /// or anything on its async flow) that awaits the gate's disposal would wait for itself forever. Such a call is
    /// detected and behaves differently in one point only: it starts the disposal as usual (intake stops, waiting calls
    /// are admitted, <see cref="ComponentOptions.DrainTimeout"/> applies to every call, the caller's included), but the
    /// task it returns completes once every other call has ended (waiting ones included), or once the callers hold every
    /// concurrency slot so that the rest can only start after them; calls waiting in such a <c>DisposeAsync</c> are
    /// counted per call, so that two calls disposing the gate at once do not wait for each other. The gate releases its
    /// resources in the background once the calling calls have ended too.</para>
    /// <para>Calls from outside (the first or later ones) return the full disposal: it completes only when every call,
    /// the ones that called <c>DisposeAsync</c> included, has ended and the resources are released.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromInside = AmbientComponent<HttpGate>.IsInside(this);
        TaskCompletionSource? started;
        Task disposal;
        lock (_lock)
        {
            disposal = _lifecycle.BeginDisposal(out started);
            if (started is not null)
            {
                SignalIfDrainedLocked();
            }

            if (fromInside)
            {
                _selfDisposers++;
                disposal = (_othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                SignalIfDrainedLocked();
            }
        }

        // Started outside the lock: when everything has drained already, the disposal runs to its end synchronously,
        // disposing timers and the client.
        if (started is not null)
        {
            _ = DisposeCoreAsync(started);
        }

        return new ValueTask(disposal);
    }

    private async Task DisposeCoreAsync(TaskCompletionSource done)
    {
        try
        {
            await Lifecycle.DrainAsync(_lifecycle.Completion, _options.DrainTimeout, _time, CancelRest).ConfigureAwait(false);
            lock (_lock)
            {
                foreach (var provider in _providerList)
                {
                    provider.Dispose();
                }
            }

            _shutdown.Dispose();
            if (_ownsClient)
            {
                Client.Dispose();
            }

            _instruments.Live.Remove(this);
            done.TrySetResult();
        }
        catch (Exception exception)
        {
            // A cancellation callback of a running call threw; the disposal reports it rather than losing it.
            done.TrySetException(exception);
        }
    }

    /// <summary>The drain timeout has passed: drops every waiting attempt, refuses retries, and cancels running calls.</summary>
    private void CancelRest()
    {
        lock (_lock)
        {
            _deadlinePassed = true;
            while (_queue.First is { } waiter)
            {
                DropLocked(waiter, DropReason.DrainTimeout);
            }

            while (_waitingForRoom.First is { } waiter)
            {
                DropLocked(waiter, DropReason.DrainTimeout);
            }

            AssertInvariants();
        }

        // Outside the lock: cancelling runs the calls' registrations. Lifecycle.DrainAsync runs this off the disposer's stack.
        _shutdown.Cancel();
    }

    /// <summary>Completes <see cref="Completion"/>, and the self-disposers' task, once what they wait for has ended.</summary>
    private void SignalIfDrainedLocked()
    {
        var active = _ledger.InFlight + _ledger.Queued;
        if (!_lifecycle.IsOpen && active == 0)
        {
            _lifecycle.SetCompleted();
        }

        // Calls disposing the gate from inside: done once every other call has ended, or once the callers hold every
        // slot (the other calls can only start after them).
        if (_othersDrained is { } othersDrained
            && (active <= _selfDisposers || (_running <= _selfDisposers && _running >= _options.MaxDegreeOfParallelism)))
        {
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }
    }
}
