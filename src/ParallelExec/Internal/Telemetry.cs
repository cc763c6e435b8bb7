using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ParallelExec.Internal;

/// <summary>
/// The library's single <see cref="Meter"/> and <see cref="ActivitySource"/>. Components create their instruments from
/// <see cref="Meter"/> once (static fields), never per instance, so that instance count does not grow the instrument set;
/// instances are told apart by the <see cref="TelemetryTagNames.Name"/> tag.
/// </summary>
internal static class Telemetry
{
    public static readonly Meter Meter = new(ParallelExecTelemetry.MeterName, typeof(Telemetry).Assembly.GetName().Version?.ToString());

    public static readonly ActivitySource ActivitySource = new(ParallelExecTelemetry.ActivitySourceName, typeof(Telemetry).Assembly.GetName().Version?.ToString());
}
