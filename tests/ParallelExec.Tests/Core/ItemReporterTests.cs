using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Internal;

namespace ParallelExec.Tests.Core;

public class ItemReporterTests
{
    private static readonly ComponentInstruments s_instruments = ComponentInstruments.Get("coretest", meterFactory: null);

    [Fact]
    public void ADropReachesTheCallbackTheCounterWithItsReasonAndTheCurrentSpan()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 4, 12, 0, 0, TimeSpan.Zero));
        var dropped = new List<DroppedItem>();
        var reporter = new ItemReporter("reporter-drop", time, s_instruments, dropped.Add, onError: null);
        var measurements = new List<(long Value, string? Name, string? Reason)>();
        using var meterListener = Listen("parallelexec.coretest.items.dropped", (value, tags) =>
            measurements.Add((value, Tag(tags, TelemetryTagNames.Name), Tag(tags, TelemetryTagNames.DropReason))));
        using var activitySource = new ActivitySource("ItemReporterTests");
        using var activityListener = ListenToAll();
        using var span = activitySource.StartActivity("outer")!;

        reporter.Dropped(DropReason.DroppedOldest, "item-7", key: "k");

        var drop = Assert.Single(dropped);
        Assert.Equal(("reporter-drop", DropReason.DroppedOldest, (object?)"item-7", (object?)"k", time.GetUtcNow()),
            (drop.Component, drop.Reason, drop.Item, drop.Key, drop.Timestamp));
        Assert.Contains((1L, "reporter-drop", "dropped_oldest"), measurements);
        var spanEvent = Assert.Single(span.Events);
        Assert.Equal("parallelexec.item.dropped", spanEvent.Name);
    }

    [Fact]
    public void AFailureWithoutACallbackIsRecordedOnTheSpan()
    {
        var reporter = new ItemReporter("reporter-fail", TimeProvider.System, s_instruments, onDropped: null, onError: null);
        using var activitySource = new ActivitySource("ItemReporterTests");
        using var activityListener = ListenToAll();
        using var span = activitySource.StartActivity("item")!;

        reporter.Failed(new InvalidOperationException("boom"), "item-1", span: span);

        Assert.False(reporter.HasErrorCallback);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        var exceptionEvent = Assert.Single(span.Events);
        Assert.Equal("exception", exceptionEvent.Name);
        Assert.Contains(exceptionEvent.Tags, tag => tag.Key == "exception.message" && (string?)tag.Value == "boom");
    }

    [Fact]
    public void AThrowingCallbackDoesNotEscapeTheReporter()
    {
        var errors = 0;
        var reporter = new ItemReporter("reporter-throw", TimeProvider.System, s_instruments,
            _ => throw new InvalidOperationException("drop callback"),
            _ => { errors++; throw new InvalidOperationException("error callback"); });

        reporter.Dropped(DropReason.Rejected, item: 1);
        reporter.Failed(new InvalidOperationException("work"), item: 2);
        Assert.Equal(1, errors);
    }

    [Fact]
    public void InstrumentsAreSharedPerKindAndFollowTheNamePattern()
    {
        Assert.Same(s_instruments, ComponentInstruments.Get("coretest", meterFactory: null));
        Assert.Equal("parallelexec.coretest.items.dropped", s_instruments.Dropped.Name);
        Assert.Equal("parallelexec.coretest.run.duration", s_instruments.RunDuration.Name);
        Assert.Equal("s", s_instruments.RunDuration.Unit);
        Assert.Equal(ParallelExecTelemetry.MeterName, s_instruments.Meter.Name);
    }

    [Fact]
    public void GaugesReadLiveComponentsAndForgetRemovedOnes()
    {
        var component = new FakeComponent("gauge-live", new LedgerSnapshot { Submitted = 5, Queued = 3, InFlight = 2 });
        var instruments = ComponentInstruments.Get("coretestgauge", meterFactory: null);
        instruments.Live.Add(component);
        var seen = new List<(string Instrument, long Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name.StartsWith("parallelexec.coretestgauge.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (Tag(tags, TelemetryTagNames.Name) == "gauge-live")
            {
                seen.Add((instrument.Name, value));
            }
        });
        listener.Start();

        listener.RecordObservableInstruments();
        Assert.Contains(("parallelexec.coretestgauge.queue.length", 3L), seen);
        Assert.Contains(("parallelexec.coretestgauge.in_flight", 2L), seen);

        seen.Clear();
        instruments.Live.Remove(component);
        listener.RecordObservableInstruments();
        Assert.Empty(seen);
    }

    private sealed class FakeComponent(string name, LedgerSnapshot ledger) : IInstrumentedComponent
    {
        public KeyValuePair<string, object?> NameTag { get; } = new(TelemetryTagNames.Name, name);

        public LedgerSnapshot ReadLedger() => ledger;
    }

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string name)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == name)
            {
                return tag.Value?.ToString();
            }
        }

        return null;
    }

    private delegate void OnMeasurement(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags);

    private static MeterListener Listen(string instrumentName, OnMeasurement onMeasurement)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == instrumentName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) => onMeasurement(value, tags));
        listener.Start();
        return listener;
    }

    private static ActivityListener ListenToAll()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = _ => true,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
