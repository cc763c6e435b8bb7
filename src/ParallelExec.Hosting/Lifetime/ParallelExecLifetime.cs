using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using ParallelExec.Hosting.Registration;

namespace ParallelExec.Hosting.Lifetime;

/// <summary>
/// Ties the registered components to the host. When the application begins to stop (<see cref="StoppingAsync"/>, at
/// <c>ApplicationStopping</c>), each component in turn, in the reverse order they were built, stops intake and drains;
/// when the host's shutdown timeout is about to pass, everything still queued or running is cancelled and reported
/// through the components' own disposal (dropped with <see cref="DropReason.DrainTimeout"/>).
/// </summary>
internal sealed class ParallelExecLifetime : IHostedLifecycleService, IAsyncDisposable
{
    private readonly ComponentRuntime _runtime;
    private readonly TimeSpan _shutdownTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private Task? _stop;

    public ParallelExecLifetime(ComponentRuntime runtime, IServiceProvider services)
    {
        _runtime = runtime;
        _shutdownTimeout = services.GetService<IOptions<HostOptions>>()?.Value.ShutdownTimeout ?? TimeSpan.FromSeconds(30);
        _timeProvider = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _logger = services.GetService<ILoggerFactory>()?.CreateLogger("ParallelExec.Hosting") ?? NullLogger.Instance;
    }

    /// <summary>Builds every component (already done by the start-up validation; this covers hosts that skip it).</summary>
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        foreach (var registration in _runtime.Registrations)
        {
            _runtime.Get(registration);
        }

        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => StopOnceAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => StopOnceAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// The container is disposed without the host having stopped (a test's provider, a host that never started): the same
    /// drain, bounded by the host's shutdown timeout, so disposal never waits for a whole queue.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(_shutdownTimeout, _timeProvider);
        await StopOnceAsync(_shutdownTimeout == Timeout.InfiniteTimeSpan ? CancellationToken.None : timeout.Token).ConfigureAwait(false);
    }

    private Task StopOnceAsync(CancellationToken hostToken)
    {
        lock (_gate)
        {
            return _stop ??= new ShutdownDrain(_runtime.InStopOrder(), _shutdownTimeout, _timeProvider, _logger).RunAsync(hostToken);
        }
    }
}
