namespace ParallelExec.Scheduling;

/// <summary>
/// The token of one timed task execution: cancelled when the run is cancelled or when the timeout, measured by the
/// graph's <see cref="TimeProvider"/>, expires. Remembers which of the two happened.
/// </summary>
internal sealed class TimeoutScope : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;

    public TimeoutScope(TimeSpan timeout, TimeProvider timeProvider, CancellationToken runToken)
    {
        Timeout = timeout;
        _timer = new CancellationTokenSource(timeout, timeProvider);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(runToken, _timer.Token);
    }

    public TimeSpan Timeout { get; }

    public CancellationToken Token => _linked.Token;

    public bool TimedOut => _timer.IsCancellationRequested;

    public void Dispose()
    {
        _linked.Dispose();
        _timer.Dispose();
    }
}
