namespace ParallelExec;

/// <summary>
/// Names under which ParallelExec publishes its metrics and traces.
/// </summary>
/// <remarks>
/// There is one <see cref="System.Diagnostics.Metrics.Meter"/> and one <see cref="System.Diagnostics.ActivitySource"/>
/// for the whole library, both named <see cref="MeterName"/>. Instruments are named
/// <c>parallelexec.&lt;component&gt;.&lt;what&gt;</c>, for example <c>parallelexec.workerpool.queue.length</c>;
/// durations are in seconds. Tag names are the constants of <see cref="TelemetryTagNames"/>.
/// </remarks>
public static class ParallelExecTelemetry
{
    /// <summary>The name of the library's <see cref="System.Diagnostics.Metrics.Meter"/>: <c>ParallelExec</c>.</summary>
    public const string MeterName = "ParallelExec";

    /// <summary>The name of the library's <see cref="System.Diagnostics.ActivitySource"/>: <c>ParallelExec</c>.</summary>
    public const string ActivitySourceName = "ParallelExec";
}
