namespace ParallelExec.Coordination;

/// <summary>A request waiting for its reply, as <see cref="PendingRequests"/> keeps it.</summary>
internal interface IPendingRequest
{
    /// <summary>Gets the request's place in its list (a field of the request: linking allocates nothing).</summary>
    ref PendingRequestLink Link { get; }

    /// <summary>Its timeout passed. Called once, outside the list's lock, after it was unlinked.</summary>
    void Expire();

    /// <summary>The bus was disposed. Called once, outside the list's lock, after it was unlinked.</summary>
    void BusDisposed();
}

/// <summary>Where a request sits: its neighbours in its lane, the lane, and its deadline on the list's clock
/// (<see cref="PendingRequests"/>, "Which clock").</summary>
internal struct PendingRequestLink
{
    public IPendingRequest? Previous;
    public IPendingRequest? Next;
    public PendingRequests.Lane? Lane;
    public long Deadline;
}

/// <summary>What <see cref="PendingRequests.Add"/> did with a request.</summary>
internal enum PendingAdd
{
    /// <summary>Linked; its timeout (if any) is kept by the list.</summary>
    Timed,

    /// <summary>Linked for disposal only: more distinct timeouts than the list keeps lanes for are pending, so the
    /// request arms a timer of its own.</summary>
    NeedsOwnTimer,

    /// <summary>Not linked: the bus is disposed.</summary>
    Closed,
}

/// <summary>
/// The bus's outstanding requests: one list per distinct timeout (a lane), in arrival order and so in deadline order,
/// served by one timer armed for the earliest deadline; and the whole set failed at once when the bus is disposed.
/// </summary>
/// <remarks>
/// <para><b>Why not a timer and a disposal registration per request.</b> They cost a timer object (about 120 B) and
/// four lock round trips inside the runtime's timer queue and the cancellation source per request, for a timeout that
/// almost never fires. Here a request costs two short uncontended locks and no allocation: it is linked through fields
/// of its own (<see cref="PendingRequestLink"/>), and since a lane's requests share one timeout, appending keeps the
/// lane sorted, so the earliest deadline is always a lane's head and the timer is re-armed only when that head times out
/// (steady traffic re-arms it about once per timeout, not once per request).</para>
/// <para><b>Why a few lanes only.</b> A caller that computes a different timeout per call would make a lane per request
/// and every tick would scan them all. Past <see cref="MaxLanes"/> distinct timeouts in use, a request gets a timer of its
/// own (the list still fails it on disposal). An empty lane is reused by the next timeout that needs one.</para>
/// <para><b>Which clock.</b> With <see cref="TimeProvider.System"/>, deadlines are kept in milliseconds of
/// <see cref="Environment.TickCount64"/>, the coarse tick count the runtime's own timers run on (a few nanoseconds to
/// read, against about 20 for a precise timestamp, on every request), plus <see cref="CoarseMarginMilliseconds"/> to
/// cover the tick's resolution (1 to 16 ms depending on the system), so that a request never times out early; it may
/// time out up to about twice that margin late, on top of the timer's own lateness. Any other clock (a fake one in tests,
/// say) is read precisely through <see cref="TimeProvider.GetTimestamp"/>.</para>
/// <para><b>Locking.</b> <see cref="_lock"/> guards every field; no request's callbacks run under it (they complete
/// tasks whose continuations run asynchronously, but they are called after the lock is released regardless).</para>
/// </remarks>
internal sealed class PendingRequests
{
    internal const int MaxLanes = 4;

    /// <summary>What the coarse clock adds to every timeout: at least the resolution of <see cref="Environment.TickCount64"/>
    /// anywhere it runs (15.6 ms on Windows by default, 1 to 10 ms on Linux), so that a deadline read from a tick that
    /// lags the true time by up to one resolution still falls after the full timeout.</summary>
    internal const int CoarseMarginMilliseconds = 16;

    private readonly object _lock = new();
    private readonly TimeProvider _timeProvider;

    // Deadlines in Environment.TickCount64 milliseconds (the system clock) rather than in the provider's timestamps.
    private readonly bool _coarse;
    private readonly Lane[] _lanes = new Lane[MaxLanes];
    private readonly Lane _untimed = new();
    private ITimer? _timer;

    // The deadline the timer is armed for (long.MaxValue: not armed). A tick may still come for an earlier arming; it
    // finds nothing due and re-arms.
    private long _timerDue = long.MaxValue;
    private bool _closed;

    public PendingRequests(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _coarse = ReferenceEquals(timeProvider, TimeProvider.System);
        for (var i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = new Lane();
        }
    }

    /// <summary>Links a request that waits at most <paramref name="timeout"/> (or forever: <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    public PendingAdd Add(IPendingRequest request, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return PendingAdd.Closed;
            }

            var lane = timeout == Timeout.InfiniteTimeSpan ? _untimed : LaneFor(timeout);
            var added = PendingAdd.Timed;
            if (lane is null)
            {
                lane = _untimed;
                added = PendingAdd.NeedsOwnTimer;
            }

            ref var link = ref request.Link;
            link.Lane = lane;
            link.Previous = lane.Tail;
            link.Next = null;
            if (lane.Tail is { } tail)
            {
                tail.Link.Next = request;
            }
            else
            {
                lane.Head = request;
            }

            lane.Tail = request;
            if (lane != _untimed)
            {
                var now = Now();
                link.Deadline = now + lane.TimeoutInUnits;
                if (link.Deadline < _timerDue)
                {
                    // Armed for the deadline, margin included: armed for the bare timeout, the coarse clock's timer
                    // would fire once with nothing due and again after the margin.
                    ArmLocked(link.Deadline, FromUnits(link.Deadline - now));
                }
            }

            return added;
        }
    }

    /// <summary>Unlinks a request that ended (a reply, a failure, a cancellation). Does nothing if it is not linked.</summary>
    public void Remove(IPendingRequest request)
    {
        lock (_lock)
        {
            Unlink(request);
        }
    }

    /// <summary>Gets how many requests are linked (for tests).</summary>
    internal int LinkedCount
    {
        get
        {
            lock (_lock)
            {
                var count = 0;
                foreach (var lane in _lanes.Append(_untimed))
                {
                    for (var request = lane.Head; request is not null; request = request.Link.Next)
                    {
                        count++;
                    }
                }

                return count;
            }
        }
    }

    /// <summary>Stops taking requests and fails every pending one with <see cref="IPendingRequest.BusDisposed"/>.</summary>
    public void Close()
    {
        List<IPendingRequest> pending = [];
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            TakeAll(_untimed, pending);
            foreach (var lane in _lanes)
            {
                TakeAll(lane, pending);
            }

            _timer?.Dispose();
            _timer = null;
        }

        foreach (var request in pending)
        {
            request.BusDisposed();
        }
    }

    private Lane? LaneFor(TimeSpan timeout)
    {
        Lane? free = null;
        foreach (var lane in _lanes)
        {
            if (lane.Timeout == timeout)
            {
                return lane;
            }

            if (free is null && lane.Head is null)
            {
                free = lane;
            }
        }

        if (free is not null)
        {
            free.Timeout = timeout;
            free.TimeoutInUnits = ToUnits(timeout);
        }

        return free;
    }

    private void OnTimer()
    {
        List<IPendingRequest>? expired = null;
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            var now = Now();
            var next = long.MaxValue;
            foreach (var lane in _lanes)
            {
                while (lane.Head is { } head && head.Link.Deadline <= now)
                {
                    Unlink(head);
                    (expired ??= []).Add(head);
                }

                if (lane.Head is { } first && first.Link.Deadline < next)
                {
                    next = first.Link.Deadline;
                }
            }

            _timerDue = long.MaxValue;
            if (next != long.MaxValue)
            {
                ArmLocked(next, FromUnits(next - now));
            }
        }

        if (expired is not null)
        {
            foreach (var request in expired)
            {
                request.Expire();
            }
        }
    }

    private void ArmLocked(long deadline, TimeSpan dueIn)
    {
        _timerDue = deadline;
        if (_timer is null)
        {
            // Created without the first requester's execution context: the timer lives as long as the bus, and would
            // otherwise keep that request's AsyncLocal values (its Activity, say) alive with it.
            var suppressed = !ExecutionContext.IsFlowSuppressed();
            if (suppressed)
            {
                ExecutionContext.SuppressFlow();
            }

            try
            {
                _timer = _timeProvider.CreateTimer(static state => ((PendingRequests)state!).OnTimer(), this, dueIn, Timeout.InfiniteTimeSpan);
            }
            finally
            {
                if (suppressed)
                {
                    ExecutionContext.RestoreFlow();
                }
            }
        }
        else
        {
            _timer.Change(dueIn, Timeout.InfiniteTimeSpan);
        }
    }

    private static void Unlink(IPendingRequest request)
    {
        ref var link = ref request.Link;
        if (link.Lane is not { } lane)
        {
            return;
        }

        if (link.Previous is { } previous)
        {
            previous.Link.Next = link.Next;
        }
        else
        {
            lane.Head = link.Next;
        }

        if (link.Next is { } next)
        {
            next.Link.Previous = link.Previous;
        }
        else
        {
            lane.Tail = link.Previous;
        }

        link = default;
    }

    private static void TakeAll(Lane lane, List<IPendingRequest> into)
    {
        while (lane.Head is { } head)
        {
            Unlink(head);
            into.Add(head);
        }
    }

    private long Now() => _coarse ? Environment.TickCount64 : _timeProvider.GetTimestamp();

    /// <summary>A timeout (at most <see cref="OptionsValidator.MaxTimerSpan"/>: the bus refuses longer ones) in the list's units.</summary>
    private long ToUnits(TimeSpan timeout) => _coarse
        ? (long)Math.Ceiling(timeout.TotalMilliseconds) + CoarseMarginMilliseconds
        : (long)Math.Ceiling(timeout.Ticks * ((double)_timeProvider.TimestampFrequency / TimeSpan.TicksPerSecond));

    /// <summary>A wait in the list's units as a timer's due time. The coarse clock's margin can take the longest timeout
    /// past what a timer can wait: such a wait is armed for the longest a timer can, and OnTimer, finding nothing due
    /// yet, arms again.</summary>
    private TimeSpan FromUnits(long units)
    {
        var due = _coarse
            ? TimeSpan.FromMilliseconds(units)
            : TimeSpan.FromTicks((long)Math.Ceiling(units * ((double)TimeSpan.TicksPerSecond / _timeProvider.TimestampFrequency)));
        return due <= OptionsValidator.MaxTimerSpan ? due : OptionsValidator.MaxTimerSpan;
    }

    /// <summary>The requests that share one timeout, oldest first.</summary>
    internal sealed class Lane
    {
        public TimeSpan Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        /// <summary>The timeout in the list's clock units (see <see cref="PendingRequests"/>, "Which clock").</summary>
        public long TimeoutInUnits;
        public IPendingRequest? Head;
        public IPendingRequest? Tail;
    }
}
