namespace ParallelExec.Net;

/// <summary>Providers: their partitions, created on first use, their pauses and the timer that wakes each one.</summary>
public sealed partial class HttpGate
{
    /// <summary>Pauses a provider: no call of it is admitted until <paramref name="duration"/> has passed.</summary>
    /// <param name="provider">The provider.</param>
    /// <param name="duration">How long; a pause shorter than one already in force does not shorten it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="duration"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public void Pause(string provider, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        GateProvider gateProvider;
        TimeSpan added;
        lock (_lock)
        {
            if (_lifecycle.IsDisposing)
            {
                throw _lifecycle.CreateClosedException(Name);
            }

            gateProvider = GetProviderLocked(provider);
            added = PauseLocked(gateProvider, duration, Now());
        }

        RecordPause(gateProvider, added);
    }

    /// <summary>Extends a provider's pause to <paramref name="duration"/> from now, if that is later than the pause in force.</summary>
    /// <returns>How much pause this added, for the pause counter (recorded outside the lock).</returns>
    private TimeSpan PauseLocked(GateProvider provider, TimeSpan duration, TimeSpan now)
    {
        var until = now + duration;
        if (until <= provider.PausedUntil || duration <= TimeSpan.Zero)
        {
            return TimeSpan.Zero;
        }

        var added = until - (provider.PausedUntil > now ? provider.PausedUntil : now);
        provider.TotalPause += added;
        provider.PausedUntil = until;
        ArmTimerLocked(provider, now);
        return added;
    }

    private void RecordPause(GateProvider provider, TimeSpan added)
    {
        if (added > TimeSpan.Zero)
        {
            _telemetry.PauseDuration.Add(added.TotalSeconds, provider.Tags);
        }
    }

    private void OnProviderTimer(GateProvider provider)
    {
        lock (_lock)
        {
            if (provider.IsDisposed)
            {
                return;
            }

            var now = Now();
            provider.TimerDueAt = Timeout.InfiniteTimeSpan;
            provider.ReturnDuePermits(now);
            ArmTimerLocked(provider, now);
            DispatchLocked(now);
            AssertInvariants();
        }
    }

    /// <summary>Arms the provider's timer for the next instant its windows free permits or its pause ends, unless armed earlier.</summary>
    private void ArmTimerLocked(GateProvider provider, TimeSpan now)
    {
        var next = provider.NextWakeAt(now);
        if (next == Timeout.InfiniteTimeSpan || (provider.TimerDueAt != Timeout.InfiniteTimeSpan && provider.TimerDueAt <= next))
        {
            return;
        }

        // Due strictly in the future: a zero due time could run the callback inline (FakeTimeProvider does), re-entering this lock.
        var due = next - now;
        if (due <= TimeSpan.Zero)
        {
            due = TimeSpan.FromTicks(1);
        }

        provider.TimerDueAt = now + due;
        provider.Timer!.Change(due, Timeout.InfiniteTimeSpan);
    }

    private GateProvider GetProviderLocked(string name)
    {
        if (_providers.TryGetValue(name, out var provider))
        {
            return provider;
        }

        var limits = _options.Providers.TryGetValue(name, out var configured) ? configured : _options.DefaultLimits;
        provider = new GateProvider(name, limits, Name);
        var p = provider;
        provider.Timer = _time.CreateTimer(_ => OnProviderTimer(p), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _providers.Add(name, provider);
        _providerList.Add(provider);
        return provider;
    }
}
