using System.Diagnostics;

namespace ParallelExec.Coordination;

/// <summary>
/// An asynchronous, reusable barrier: each phase releases its waiters once <see cref="ParticipantCount"/> participants
/// have arrived. Create it with <see cref="CoordinationBus.CreateBarrier(int)"/>.
/// </summary>
/// <remarks>
/// A participant whose wait times out or is cancelled before its phase completes withdraws its arrival, so the phase
/// still needs <see cref="ParticipantCount"/> live arrivals. Waiters are released asynchronously (never inline on the
/// last arriver's thread). Disposing the bus fails the waiters with <see cref="ObjectDisposedException"/>.
/// </remarks>
[DebuggerDisplay("Phase {CurrentPhase}: {ArrivedCount}/{ParticipantCount}")]
public sealed class CoordinationBarrier
{
    private readonly CoordinationBus _bus;
    private readonly object _lock = new();
    private TaskCompletionSource<long> _phaseCompleted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _phase;
    private int _arrived;

    internal CoordinationBarrier(CoordinationBus bus, int participantCount)
    {
        _bus = bus;
        ParticipantCount = participantCount;
    }

    /// <summary>Gets how many participants each phase waits for.</summary>
    public int ParticipantCount { get; }

    /// <summary>Gets the number of the phase now filling (0 for the first).</summary>
    public long CurrentPhase
    {
        get
        {
            lock (_lock)
            {
                return _phase;
            }
        }
    }

    /// <summary>Gets how many participants have arrived in the current phase.</summary>
    public int ArrivedCount
    {
        get
        {
            lock (_lock)
            {
                return _arrived;
            }
        }
    }

    /// <summary>Arrives at the barrier and waits until the phase's last participant arrives.</summary>
    /// <param name="timeout">How long to wait; null or <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="cancellationToken">Cancels the wait (the arrival is withdrawn).</param>
    /// <returns>The number of the phase that completed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (and not infinite), or
    /// longer than <see cref="OptionsValidator.MaxTimerSpan"/> (about 49.7 days).</exception>
    /// <exception cref="TimeoutException">The phase did not complete in time (the arrival is withdrawn).</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<long> SignalAndWaitAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var wait = timeout ?? Timeout.InfiniteTimeSpan;
        CoordinationBus.ValidateTimeout(wait, nameof(timeout));

        _bus.ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        TaskCompletionSource<long> phase;
        TaskCompletionSource<long>? completed = null;
        long phaseNumber;
        lock (_lock)
        {
            phase = _phaseCompleted;
            phaseNumber = _phase;
            if (++_arrived == ParticipantCount)
            {
                completed = phase;
                _arrived = 0;
                _phase++;
                _phaseCompleted = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }

        if (completed is not null)
        {
            completed.TrySetResult(phaseNumber);
            return phaseNumber;
        }

        try
        {
            return await _bus.WaitAsync(phase.Task, wait, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            lock (_lock)
            {
                if (phase.Task.IsCompleted)
                {
                    // The phase completed as we gave up: we counted, so report success rather than a withdrawal.
                    return phase.Task.Result;
                }

                _arrived--;
            }

            if (exception is TimeoutException)
            {
                throw new TimeoutException($"The barrier phase {phaseNumber} did not complete within {wait} ({ParticipantCount} participants).");
            }

            throw;
        }
    }
}
