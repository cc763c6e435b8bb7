namespace ParallelExec.Coordination;

/// <summary>
/// The timeout timers of a bus's requests, reused: creating and disposing a timer per request cost about 120 B and more
/// time than the rest of a round trip. A request takes a <see cref="Slot"/>, arms it, and gives it back when it ends.
/// </summary>
/// <remarks>
/// A timer callback that was already on its way when its slot was given back and taken by another request is harmless:
/// every firing looks, under the slot's lock, at the request the slot holds now and its deadline; before the deadline
/// it re-arms for the time left (which also covers a timer that fires a little early), after it the request expires.
/// </remarks>
internal sealed class RequestTimers
{
    // Enough for a few hundred requests in flight; slots above it (a burst) have their timers disposed.
    private const int MaxPooled = 256;

    private readonly TimeProvider _time;
    private readonly Stack<Slot> _pool = new();
    private bool _disposed;

    public RequestTimers(TimeProvider time)
    {
        _time = time;
    }

    /// <summary>Arms a slot for <paramref name="request"/>, to expire it after <paramref name="timeout"/>.</summary>
    public Slot Arm(IExpiring request, TimeSpan timeout)
    {
        Slot? slot = null;
        lock (_pool)
        {
            if (_pool.Count > 0)
            {
                slot = _pool.Pop();
            }
        }

        slot ??= new Slot(this);
        slot.Arm(request, timeout);
        return slot;
    }

    /// <summary>Disarms a slot and keeps it for the next request.</summary>
    public void Return(Slot slot)
    {
        slot.Disarm();
        lock (_pool)
        {
            if (!_disposed && _pool.Count < MaxPooled)
            {
                _pool.Push(slot);
                return;
            }
        }

        slot.Dispose();
    }

    /// <summary>Disposes the pooled timers (the bus is disposed; later returns dispose theirs).</summary>
    public void Dispose()
    {
        Slot[] pooled;
        lock (_pool)
        {
            _disposed = true;
            pooled = [.. _pool];
            _pool.Clear();
        }

        foreach (var slot in pooled)
        {
            slot.Dispose();
        }
    }

    /// <summary>A request that can time out.</summary>
    internal interface IExpiring
    {
        /// <summary>Fails the request with a timeout; a request that has already ended ignores it.</summary>
        void Expire();
    }

    /// <summary>One reusable timer and the request it is armed for.</summary>
    internal sealed class Slot
    {
        private readonly object _lock = new();
        private readonly RequestTimers _owner;
        private readonly ITimer _timer;
        private IExpiring? _current;
        private long _deadline;
        private TimeSpan _timeout;

        public Slot(RequestTimers owner)
        {
            _owner = owner;

            // No flow: the timer must not keep the first requester's AsyncLocals alive for later requests.
            var restoreFlow = !ExecutionContext.IsFlowSuppressed();
            var flow = restoreFlow ? ExecutionContext.SuppressFlow() : default;
            try
            {
                _timer = owner._time.CreateTimer(static state => ((Slot)state!).OnFired(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            finally
            {
                if (restoreFlow)
                {
                    flow.Undo();
                }
            }
        }

        public void Arm(IExpiring request, TimeSpan timeout)
        {
            lock (_lock)
            {
                _current = request;
                _timeout = timeout;
                var ticks = timeout.TotalSeconds * _owner._time.TimestampFrequency;
                _deadline = ticks >= long.MaxValue / 2 ? long.MaxValue : _owner._time.GetTimestamp() + (long)ticks;
                _timer.Change(timeout, Timeout.InfiniteTimeSpan);
            }
        }

        public void Disarm()
        {
            lock (_lock)
            {
                _current = null;
                _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
        }

        public void Dispose() => _timer.Dispose();

        private void OnFired()
        {
            IExpiring? expired;
            lock (_lock)
            {
                expired = _current;
                if (expired is null)
                {
                    return;
                }

                var left = _deadline - _owner._time.GetTimestamp();
                if (left > 0)
                {
                    // A firing meant for an earlier request of this slot, or a timer a little early: wait for the rest
                    // (at least a tick, at most the request's own timeout).
                    var wait = TimeSpan.FromTicks((long)Math.Max(1, Math.Min(left * (double)TimeSpan.TicksPerSecond / _owner._time.TimestampFrequency, _timeout.Ticks)));
                    _timer.Change(wait, Timeout.InfiniteTimeSpan);
                    return;
                }
            }

            // Outside the lock: expiring completes the request, which gives this slot back.
            expired.Expire();
        }
    }
}
