using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>The network gate's instruments, created once from the library's meter and tagged per gate and provider.</summary>
internal static class GateTelemetry
{
    public static readonly UpDownCounter<long> Waiting = Telemetry.Meter.CreateUpDownCounter<long>(
        "parallelexec.net.waiting", "{call}", "Calls waiting for admission to the network gate.");

    public static readonly UpDownCounter<long> InFlight = Telemetry.Meter.CreateUpDownCounter<long>(
        "parallelexec.net.in_flight", "{call}", "Calls admitted by the network gate and still running.");

    public static readonly Counter<long> Admitted = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.net.admitted", "{call}", "Calls admitted by the network gate (retries count again).");

    public static readonly Counter<long> Rejected = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.net.rejected", "{call}", "Calls the full wait queue of the network gate dropped or rejected.");

    public static readonly Counter<long> Throttled = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.net.throttled", "{response}", "Throttling answers (429, or 503 with Retry-After) seen by the network gate.");

    public static readonly Counter<double> PauseDuration = Telemetry.Meter.CreateCounter<double>(
        "parallelexec.net.pause.duration", "s", "Time providers were paused by throttling answers.");

    public static readonly Histogram<double> WaitDuration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.net.wait.duration", "s", "How long calls waited for admission to the network gate.");
}
