using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ParallelExec.Internal;

/// <summary>
/// The library's shared <see cref="Meter"/> (used when no <see cref="IMeterFactory"/> is given) and its single
/// <see cref="ActivitySource"/>. Components take their instruments from <see cref="ComponentInstruments"/>, never per
/// instance, and tell instances apart by the <see cref="TelemetryTagNames.Name"/> tag.
/// </summary>
internal static class Telemetry
{
    public static readonly string? Version = typeof(Telemetry).Assembly.GetName().Version?.ToString();

    public static readonly Meter Meter = new(ParallelExecTelemetry.MeterName, Version);

    public static readonly ActivitySource ActivitySource = new(ParallelExecTelemetry.ActivitySourceName, Version);

    /// <summary>The value of the <see cref="TelemetryTagNames.Outcome"/> tag for a succeeded item.</summary>
    public const string Succeeded = "succeeded";

    /// <summary>The value of the <see cref="TelemetryTagNames.Outcome"/> tag for a failed item.</summary>
    public const string Failed = "failed";

    /// <summary>The value of the <see cref="TelemetryTagNames.Outcome"/> tag for a cancelled item.</summary>
    public const string Cancelled = "cancelled";

    /// <summary>
    /// Starts a span for one unit of work when someone listens, parented to <paramref name="parent"/> (the submitter's
    /// context captured at submission) or to the current activity.
    /// </summary>
    /// <param name="name">The span name, <c>parallelexec.&lt;component&gt;.&lt;operation&gt;</c>.</param>
    /// <param name="componentName">The component's name, set as the <see cref="TelemetryTagNames.Name"/> tag.</param>
    /// <param name="parent">The submitter's context, or <see langword="default"/> for the current activity.</param>
    /// <param name="kind">The span kind.</param>
    /// <param name="links">Links to other contexts (the submitters of a batch).</param>
    /// <returns>The activity, or <see langword="null"/> when nobody listens or the sampler drops it.</returns>
    public static Activity? StartSpan(string name, string componentName, ActivityContext parent = default, ActivityKind kind = ActivityKind.Internal,
        IEnumerable<ActivityLink>? links = null)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var activity = ActivitySource.StartActivity(name, kind, parent, tags: null, links);
        activity?.SetTag(TelemetryTagNames.Name, componentName);
        return activity;
    }

    /// <summary>Marks a span failed and records the exception as an OpenTelemetry <c>exception</c> event.</summary>
    /// <param name="activity">The span, or <see langword="null"/>.</param>
    /// <param name="exception">What the work threw.</param>
    public static void RecordFailure(Activity? activity, Exception exception)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetStatus(ActivityStatusCode.Error, exception.Message);
        activity.AddEvent(new ActivityEvent("exception", tags: new ActivityTagsCollection
        {
            ["exception.type"] = exception.GetType().FullName,
            ["exception.message"] = exception.Message,
            ["exception.stacktrace"] = exception.ToString(),
        }));
    }
}
