using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace ParallelExec.Tests.Memory;

/// <summary>
/// Listens to the <c>parallelexec.memory.*</c> instruments and keeps the measurements tagged with one store's name, so a
/// test sees only its own store while the rest of the suite runs beside it.
/// </summary>
public sealed class MemoryMeterProbe : IDisposable
{
    private readonly MeterListener _listener;
    private readonly string _storeName;

    public MemoryMeterProbe(string storeName)
    {
        _storeName = storeName;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.memory.", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public ConcurrentQueue<Measured> Measurements { get; } = new();

    /// <summary>Reads the observable instruments (queue length, in flight) now.</summary>
    public void Observe() => _listener.RecordObservableInstruments();

    /// <summary>The sum of one instrument's measurements, optionally only those with the given tag value.</summary>
    public double Sum(string instrument, string? tag = null, string? value = null) =>
        Measurements.Where(m => m.Instrument == instrument && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value))).Sum(m => m.Value);

    /// <summary>How many measurements one instrument recorded.</summary>
    public int Count(string instrument) => Measurements.Count(m => m.Instrument == instrument);

    /// <summary>The last value an observable instrument reported.</summary>
    public double Last(string instrument) => Measurements.Last(m => m.Instrument == instrument).Value;

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        if (copy.GetValueOrDefault(TelemetryTagNames.Name) as string == _storeName)
        {
            Measurements.Enqueue(new Measured(instrument.Name, value, copy));
        }
    }

    public sealed record Measured(string Instrument, double Value, Dictionary<string, object?> Tags);
}
