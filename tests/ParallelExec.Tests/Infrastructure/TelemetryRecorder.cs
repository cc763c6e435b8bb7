using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ParallelExec.Tests.Infrastructure;

/// <summary>
/// Records the ParallelExec measurements and spans of one component instance, told apart from every other test's by its
/// <c>parallelexec.name</c> tag (the meter and the activity source are shared by the whole process).
/// </summary>
internal sealed class TelemetryRecorder : IDisposable
{
    private readonly string _name;
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _spans;

    /// <param name="componentName">The component's name tag: only its measurements and spans are kept.</param>
    /// <param name="instrumentPrefix">The instruments to listen to, for example <c>parallelexec.memory.</c>.</param>
    /// <param name="recordSpans">Whether to listen to spans too (a listener makes every component in the process create spans).</param>
    public TelemetryRecorder(string componentName, string instrumentPrefix, bool recordSpans = true)
    {
        _name = componentName;
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith(instrumentPrefix, StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _meters.Start();
        _spans = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem(TelemetryTagNames.Name), _name))
                {
                    Spans.Enqueue(activity);
                }
            },
        };
        if (recordSpans)
        {
            ActivitySource.AddActivityListener(_spans);
        }
    }

    public ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)> Measurements { get; } = new();

    /// <summary>Listens to a test's own source, so that the test can start a caller span for the component's spans to hang under.</summary>
    public static ActivityListener ListenTo(ActivitySource source)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    public ConcurrentQueue<Activity> Spans { get; } = new();

    /// <summary>Sums the measurements of one instrument whose tags include every given tag.</summary>
    public double Sum(string instrument, params (string Key, object? Value)[] tags) =>
        Matching(instrument, tags).Sum(m => m.Value);

    /// <summary>Counts the measurements (for a histogram: the recordings) of one instrument whose tags include every given tag.</summary>
    public int Count(string instrument, params (string Key, object? Value)[] tags) => Matching(instrument, tags).Count();

    /// <summary>Reads the observable instruments now (queue length, in flight).</summary>
    public void RecordObservables() => _meters.RecordObservableInstruments();

    /// <summary>The last observed value of an observable instrument, or null when it reported none for this component.</summary>
    public double? Last(string instrument) =>
        Measurements.Where(m => m.Instrument == instrument).Select(m => (double?)m.Value).LastOrDefault();

    public void Dispose()
    {
        _spans.Dispose();
        _meters.Dispose();
    }

    private IEnumerable<(string Instrument, double Value, Dictionary<string, object?> Tags)> Matching(string instrument, (string Key, object? Value)[] tags) =>
        Measurements.Where(m => m.Instrument == instrument && tags.All(t => m.Tags.TryGetValue(t.Key, out var v) && Equals(v, t.Value)));

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        if (copy.TryGetValue(TelemetryTagNames.Name, out var name) && Equals(name, _name))
        {
            Measurements.Enqueue((instrument.Name, value, copy));
        }
    }
}
