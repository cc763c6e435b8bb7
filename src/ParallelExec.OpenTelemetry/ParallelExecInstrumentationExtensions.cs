using ParallelExec;

// The namespace of the builders, as OpenTelemetry's own instrumentation packages do, so no extra using is needed.
namespace OpenTelemetry.Metrics
{
    /// <summary>Subscribes an OpenTelemetry meter provider to ParallelExec's instruments.</summary>
    public static class ParallelExecMeterProviderBuilderExtensions
    {
        /// <summary>
        /// Collects every <c>parallelexec.*</c> instrument: the meter named <see cref="ParallelExecTelemetry.MeterName"/>,
        /// whether a component took it from the shared static meter or from the application's <c>IMeterFactory</c>.
        /// </summary>
        /// <param name="builder">The meter provider builder.</param>
        /// <returns>The same builder.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
        public static MeterProviderBuilder AddParallelExecInstrumentation(this MeterProviderBuilder builder)
        {
            ArgumentNullException.ThrowIfNull(builder);
            return builder.AddMeter(ParallelExecTelemetry.MeterName);
        }
    }
}

namespace OpenTelemetry.Trace
{
    /// <summary>Subscribes an OpenTelemetry tracer provider to ParallelExec's spans.</summary>
    public static class ParallelExecTracerProviderBuilderExtensions
    {
        /// <summary>
        /// Records every <c>parallelexec.*</c> span: the activity source named <see cref="ParallelExecTelemetry.ActivitySourceName"/>.
        /// </summary>
        /// <param name="builder">The tracer provider builder.</param>
        /// <returns>The same builder.</returns>
        /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
        public static TracerProviderBuilder AddParallelExecInstrumentation(this TracerProviderBuilder builder)
        {
            ArgumentNullException.ThrowIfNull(builder);
            return builder.AddSource(ParallelExecTelemetry.ActivitySourceName);
        }
    }
}
