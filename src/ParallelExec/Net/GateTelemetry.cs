using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>
/// The gate's own instruments, beside the standard <c>parallelexec.http.*</c> ones of <see cref="ComponentInstruments"/>:
/// what only a gate with providers has. Each is tagged with the gate's name and the <see cref="TelemetryTagNames.Provider"/>.
/// </summary>
internal sealed class GateTelemetry
{
    private GateTelemetry(Meter meter)
    {
        Admitted = meter.CreateCounter<long>(
            "parallelexec.http.admitted", "{call}", "Attempts admitted by the gate, by provider (a retried call counts again).");
        Throttled = meter.CreateCounter<long>(
            "parallelexec.http.throttled", "{response}", "Throttling answers (429, or 503 with Retry-After), by provider.");
        PauseDuration = meter.CreateCounter<double>(
            "parallelexec.http.pause.duration", "s", "Time providers were paused by throttling answers or Pause, by provider.");
    }

    /// <summary>Gets <c>parallelexec.http.admitted</c>.</summary>
    public Counter<long> Admitted { get; }

    /// <summary>Gets <c>parallelexec.http.throttled</c>.</summary>
    public Counter<long> Throttled { get; }

    /// <summary>Gets <c>parallelexec.http.pause.duration</c>, in seconds.</summary>
    public Counter<double> PauseDuration { get; }

    /// <summary>Gets the gate instruments on the meter of <paramref name="instruments"/>, created once per meter.</summary>
    /// <param name="instruments">The standard <c>http</c> instruments.</param>
    /// <returns>The cached set.</returns>
    public static GateTelemetry Get(ComponentInstruments instruments) => instruments.GetExtra(nameof(GateTelemetry), static meter => new GateTelemetry(meter));
}
