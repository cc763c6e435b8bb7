using Microsoft.Extensions.Logging;
using ParallelExec.Hosting.Logging;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting.Lifetime;

/// <summary>
/// One shutdown of the hosted components. Components stop one at a time, in the order given (the reverse of the order
/// they were built: a pool that feeds a batch processor stops, and drains into it, before the processor stops). Each
/// gets <c>Complete()</c>, then its accepted work runs until it ends, its own <c>DrainTimeout</c> passes, or the drain
/// window closes; then <c>DisposeAsync</c> (a zero drain timeout, see <see cref="HostedComponent.DrainTimeout"/>)
/// cancels what is left and reports each item as dropped. The drain window is the host's shutdown timeout less a
/// grace in which cancelled work ends and is reported before the host's own deadline (see <see cref="Grace"/>).
/// </summary>
internal sealed class ShutdownDrain(HostedComponent[] components, TimeSpan shutdownTimeout, TimeProvider timeProvider, ILogger logger)
{
    private static readonly TimeSpan MaxGrace = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MinGrace = TimeSpan.FromMilliseconds(250);

    public async Task RunAsync(CancellationToken hostToken)
    {
        var window = DrainWindow(shutdownTimeout);
        Log.StopStarted(logger, components.Length, window);
        using var windowSource = window == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(window, timeProvider);
        using var drainWindow = CancellationTokenSource.CreateLinkedTokenSource(windowSource.Token, hostToken);

        var next = 0;
        while (next < components.Length && await StopOneAsync(components[next], drainWindow.Token).ConfigureAwait(false))
        {
            next++;
        }

        if (next < components.Length)
        {
            await CutAsync(components.AsSpan(next).ToArray(), hostToken).ConfigureAwait(false);
        }
    }

    /// <summary>The drain window: the shutdown timeout less the grace; infinite stays infinite.</summary>
    public static TimeSpan DrainWindow(TimeSpan shutdownTimeout)
    {
        if (shutdownTimeout == Timeout.InfiniteTimeSpan)
        {
            return Timeout.InfiniteTimeSpan;
        }

        return shutdownTimeout - Grace(shutdownTimeout);
    }

    /// <summary>
    /// The time kept back from the drain for the cut: a tenth of the shutdown timeout, at least 250 ms but never more
    /// than half of it, and at most two seconds.
    /// </summary>
    /// <remarks>A tenth alone left a host configured with a one-second timeout 100 ms to cancel its work and report
    /// every item dropped; a loaded machine missed that (the drops were then reported after the host stopped waiting,
    /// and it logged <c>StopAbandoned</c>). The floor gives cancellation callbacks and handlers observing their token
    /// time to run; the half keeps very short timeouts (tests, mostly) draining for at least as long as they cut.</remarks>
    public static TimeSpan Grace(TimeSpan shutdownTimeout)
    {
        var grace = TimeSpan.FromTicks(Math.Max(shutdownTimeout.Ticks / 10, MinGrace.Ticks));
        grace = TimeSpan.FromTicks(Math.Min(grace.Ticks, shutdownTimeout.Ticks / 2));
        return grace < MaxGrace ? grace : MaxGrace;
    }

    /// <summary>Stops one component; <see langword="false"/> when the drain window closed first (the component is left to <see cref="CutAsync"/>).</summary>
    private async Task<bool> StopOneAsync(HostedComponent component, CancellationToken drainWindow)
    {
        try
        {
            if (component.Lifecycle is { } lifecycle)
            {
                lifecycle.Complete();
                try
                {
                    var completion = component.DrainTimeout == Timeout.InfiniteTimeSpan
                        ? lifecycle.Completion.WaitAsync(drainWindow)
                        : lifecycle.Completion.WaitAsync(component.DrainTimeout, timeProvider, drainWindow);
                    await completion.ConfigureAwait(false);
                    Log.ComponentDrained(component.Log.Logger, component.Kind, component.Name, lifecycle.GetStatistics().Ledger);
                }
                catch (TimeoutException)
                {
                    var ledger = lifecycle.GetStatistics().Ledger;
                    Log.DrainTimeoutReached(component.Log.Logger, component.Kind, component.Name, component.DrainTimeout, ledger.Queued, ledger.InFlight);
                }
                catch (OperationCanceledException) when (drainWindow.IsCancellationRequested)
                {
                    // The window closed while this component drained: it is cut with the rest.
                    return false;
                }
            }

            await DisposeAsync(component).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.StopFailed(component.Log.Logger, exception, component.Kind, component.Name);
        }

        return !drainWindow.IsCancellationRequested;
    }

    /// <summary>The drain window has closed: cancels everything left at once and waits, until the host's own deadline, for it to be reported.</summary>
    private async Task CutAsync(HostedComponent[] rest, CancellationToken hostToken)
    {
        var disposals = new List<Task>(rest.Length);
        foreach (var component in rest)
        {
            if (component.Lifecycle is { } lifecycle)
            {
                lifecycle.Complete();
                var ledger = lifecycle.GetStatistics().Ledger;
                if (!lifecycle.Completion.IsCompleted)
                {
                    Log.ShutdownDeadlineReached(component.Log.Logger, component.Kind, component.Name, ledger.Queued, ledger.InFlight);
                }
            }

            disposals.Add(DisposeLoggedAsync(component));
        }

        try
        {
            await Task.WhenAll(disposals).WaitAsync(hostToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (hostToken.IsCancellationRequested)
        {
            Log.StopAbandoned(logger, disposals.Count(d => !d.IsCompleted));
        }
    }

    private static async Task DisposeLoggedAsync(HostedComponent component)
    {
        try
        {
            await DisposeAsync(component).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Log.StopFailed(component.Log.Logger, exception, component.Kind, component.Name);
        }
    }

    private static ValueTask DisposeAsync(HostedComponent component) =>
        component.Instance is IAsyncDisposable disposable ? disposable.DisposeAsync() : ValueTask.CompletedTask;
}
