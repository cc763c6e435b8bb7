namespace ParallelExec.Tests.Infrastructure;

/// <summary>
/// The system clock with faults a test switches on: the component's own work around user code (a drain's timed wait, a
/// batch's timestamps, a dead letter's time) throws <see cref="ClockFault"/> where a real fault could. Scoped to the one
/// component the clock is given to, unlike a process-wide listener, so tests running in parallel are not disturbed.
/// </summary>
public sealed class FaultyClock : TimeProvider
{
    [ThreadStatic]
    private static bool t_failNextUtcNow;

    private int _timestamps;

    /// <summary>Gets or sets whether <see cref="CreateTimer"/> throws.</summary>
    public bool FailTimers { get; set; }

    /// <summary>Gets or sets the number of the first <see cref="GetTimestamp"/> call that throws (1-based); every later
    /// call throws too. Zero: none.</summary>
    public int FailTimestampsFrom { get; set; }

    /// <summary>Makes the next <see cref="GetUtcNow"/> call on the calling thread (only) throw, once.</summary>
    public static void FailNextUtcNowOnThisThread() => t_failNextUtcNow = true;

    /// <inheritdoc/>
    public override DateTimeOffset GetUtcNow()
    {
        if (t_failNextUtcNow)
        {
            t_failNextUtcNow = false;
            throw new ClockFault("GetUtcNow");
        }

        return System.GetUtcNow();
    }

    /// <inheritdoc/>
    public override long GetTimestamp() =>
        FailTimestampsFrom > 0 && Interlocked.Increment(ref _timestamps) >= FailTimestampsFrom
            ? throw new ClockFault("GetTimestamp")
            : System.GetTimestamp();

    /// <inheritdoc/>
    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        FailTimers ? throw new ClockFault("CreateTimer") : System.CreateTimer(callback, state, dueTime, period);
}

/// <summary>The exception <see cref="FaultyClock"/> throws.</summary>
public sealed class ClockFault(string member) : Exception($"Injected fault in TimeProvider.{member}.");
