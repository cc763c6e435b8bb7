using System.Diagnostics;

namespace ParallelExec.Redis;

/// <summary>Carries a W3C trace context across Redis as the <c>traceparent</c> and <c>tracestate</c> strings.</summary>
internal static class TraceParent
{
    /// <summary>The current activity's traceparent, or <see langword="null"/> when nothing is traced or the id is not W3C.</summary>
    public static string? Current(out string? traceState)
    {
        var activity = Activity.Current;
        traceState = activity?.TraceStateString;
        return activity is { IdFormat: ActivityIdFormat.W3C } ? activity.Id : null;
    }

    /// <summary>Parses a carried context; <see langword="default"/> when absent or malformed.</summary>
    public static ActivityContext Parse(string? traceParent, string? traceState) =>
        traceParent is not null && ActivityContext.TryParse(traceParent, traceState, isRemote: true, out var context) ? context : default;
}
