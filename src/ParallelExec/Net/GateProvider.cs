using System.Diagnostics;
using System.Threading.RateLimiting;

namespace ParallelExec.Net;

/// <summary>
/// One provider's partition of an <see cref="HttpGate"/>: its waiting calls, its sliding request and weight windows,
/// its throttling pause and the one timer that wakes it when a window frees permits or a pause ends.
/// </summary>
/// <remarks>
/// The windows are <see cref="ConcurrencyLimiter"/>s whose permits are handed back by the gate's
/// <see cref="TimeProvider"/> one period after they were taken: a sliding-window log. The runtime's replenishing
/// limiters (<see cref="TokenBucketRateLimiter"/> and the window limiters) read <see cref="Stopwatch"/> even when
/// replenished by hand, so they cannot follow an injected clock; returning permits on the gate's own timer keeps the
/// accounting in System.Threading.RateLimiting and every instant of it on the injected clock.
/// Every member is used under the gate's lock.
/// </remarks>
internal sealed class GateProvider : IDisposable
{
    public GateProvider(string name, ProviderLimits limits, string gateName)
    {
        Name = name;
        Limits = limits;
        Tags = new TagList
        {
            { TelemetryTagNames.Name, gateName },
            { TelemetryTagNames.Provider, name },
        };
        if (limits.RequestLimit is { } requests)
        {
            RequestWindow = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = requests, QueueLimit = 0 });
        }

        if (limits.WeightLimit is { } weight)
        {
            WeightWindow = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = weight, QueueLimit = 0 });
        }
    }

    public string Name { get; }

    public bool IsDisposed { get; private set; }

    public ProviderLimits Limits { get; }

    /// <summary>Gets the gate's name and this provider's name, the tags of the gate's own instruments.</summary>
    public TagList Tags { get; }

    public ConcurrencyLimiter? RequestWindow { get; }

    public ConcurrencyLimiter? WeightWindow { get; }

    /// <summary>Request permits to hand back, oldest first (one fixed period from a moment taken under the lock, so the queue is ordered by due time).</summary>
    public Queue<(TimeSpan DueAt, RateLimitLease Lease)> RequestReleases { get; } = new();

    /// <summary>Weight permits to hand back, oldest first.</summary>
    public Queue<(TimeSpan DueAt, RateLimitLease Lease)> WeightReleases { get; } = new();

    /// <summary>Waiting calls in the gate's queue, best first.</summary>
    public SortedSet<GateWaiter> Waiting { get; } = new(GateWaiter.ByPriority);

    public TimeSpan PausedUntil { get; set; }

    public ITimer? Timer { get; set; }

    /// <summary>When the timer is armed to fire, or <see cref="Timeout.InfiniteTimeSpan"/> when it is not armed.</summary>
    public TimeSpan TimerDueAt { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Gets or sets how many of the provider's attempts hold a concurrency slot now.</summary>
    public int InFlight { get; set; }

    public long Admitted { get; set; }

    /// <summary>Gets or sets how many of the provider's calls were refused, evicted or cut by the drain timeout.</summary>
    public long Dropped { get; set; }

    public long Throttled { get; set; }

    public TimeSpan TotalPause { get; set; }

    public bool CanAdmit(int weight, TimeSpan now) =>
        PausedUntil <= now
        && (RequestWindow is null || RequestWindow.GetStatistics()!.CurrentAvailablePermits >= 1)
        && (WeightWindow is null || weight == 0 || WeightWindow.GetStatistics()!.CurrentAvailablePermits >= weight);

    /// <summary>
    /// Takes the window permits of one admitted call; <see cref="CanAdmit"/> said they are there. Permits counted from
    /// admission are scheduled for return at once; permits counted from completion stay on the ticket until
    /// <see cref="ScheduleReturn"/>.
    /// </summary>
    public void TakePermits(GateTicket ticket, int weight, TimeSpan now)
    {
        if (RequestWindow is not null)
        {
            var lease = RequestWindow.AttemptAcquire(1);
            Debug.Assert(lease.IsAcquired, "CanAdmit checked the request window under the same lock.");
            ticket.Request = lease;
        }

        if (WeightWindow is not null && weight > 0)
        {
            var lease = WeightWindow.AttemptAcquire(weight);
            Debug.Assert(lease.IsAcquired, "CanAdmit checked the weight window under the same lock.");
            ticket.Weight = lease;
        }

        if (!Limits.CountFromCompletion)
        {
            ScheduleReturn(ticket, now);
        }
    }

    /// <summary>Schedules the ticket's window permits to come back one period from <paramref name="now"/>.</summary>
    public void ScheduleReturn(GateTicket ticket, TimeSpan now)
    {
        if (ticket.Request is { } request)
        {
            RequestReleases.Enqueue((now + Limits.RequestPeriod, request));
            ticket.Request = null;
        }

        if (ticket.Weight is { } weight)
        {
            WeightReleases.Enqueue((now + Limits.WeightPeriod, weight));
            ticket.Weight = null;
        }
    }

    /// <summary>Hands back every permit whose period has passed.</summary>
    public void ReturnDuePermits(TimeSpan now)
    {
        while (RequestReleases.TryPeek(out var entry) && entry.DueAt <= now)
        {
            RequestReleases.Dequeue().Lease.Dispose();
        }

        while (WeightReleases.TryPeek(out var entry) && entry.DueAt <= now)
        {
            WeightReleases.Dequeue().Lease.Dispose();
        }
    }

    /// <summary>The next instant something changes for this provider without a call ending, or infinite.</summary>
    public TimeSpan NextWakeAt(TimeSpan now)
    {
        var next = Timeout.InfiniteTimeSpan;
        if (RequestReleases.TryPeek(out var request))
        {
            next = request.DueAt;
        }

        if (WeightReleases.TryPeek(out var weight) && (next == Timeout.InfiniteTimeSpan || weight.DueAt < next))
        {
            next = weight.DueAt;
        }

        if (PausedUntil > now && (next == Timeout.InfiniteTimeSpan || PausedUntil < next))
        {
            next = PausedUntil;
        }

        return next;
    }

    public void Dispose()
    {
        IsDisposed = true;
        Timer?.Dispose();
        while (RequestReleases.TryDequeue(out var entry))
        {
            entry.Lease.Dispose();
        }

        while (WeightReleases.TryDequeue(out var entry))
        {
            entry.Lease.Dispose();
        }

        RequestWindow?.Dispose();
        WeightWindow?.Dispose();
    }
}
