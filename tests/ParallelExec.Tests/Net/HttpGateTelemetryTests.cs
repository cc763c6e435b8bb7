using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

/// <summary>The standard <c>parallelexec.http.*</c> instruments and the <c>parallelexec.http.call</c> span, observed with real listeners.</summary>
public sealed class HttpGateTelemetryTests
{
    [Fact]
    public async Task TheStandardInstrumentsCountSubmittedFailedAndDroppedCallsAndMeasureQueueInFlightWaitAndRun()
    {
        var time = new FakeTimeProvider();
        var name = "http-metrics-" + Guid.NewGuid().ToString("N");
        using var recorder = new Recorder(name, meter => meter.Name == ParallelExecTelemetry.MeterName);
        await using var gate = Exec.Http().WithName(name).WithTimeProvider(time).WithMaxDegreeOfParallelism(1).WithQueue(1, QueueFullMode.Reject).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = gate.RunAsync("a", async _ =>
        {
            await release.Task;
            return 0;
        });
        var queued = gate.RunAsync("b", _ => ValueTask.FromResult(1));
        await Assert.ThrowsAsync<ItemDroppedException>(() => gate.RunAsync("b", _ => ValueTask.FromResult(2)));

        recorder.Observe();
        Assert.Equal([1.0], recorder.Values("parallelexec.http.queue.length"));
        Assert.Equal([1.0], recorder.Values("parallelexec.http.in_flight"));

        time.Advance(TimeSpan.FromSeconds(2));
        release.SetResult();
        await Task.WhenAll(blocker, queued).WithTimeout();
        await Assert.ThrowsAsync<InvalidDataException>(() => gate.RunAsync<int>("a", _ => throw new InvalidDataException("boom")));
        recorder.Observe();

        Assert.Equal(4, recorder.Values("parallelexec.http.items.submitted").Sum());
        Assert.Equal([1.0], recorder.Values("parallelexec.http.items.failed"));
        Assert.Equal([(1.0, "rejected")], recorder.Measurements("parallelexec.http.items.dropped").Select(m => (m.Value, m.Tag(TelemetryTagNames.DropReason))));
        Assert.Equal([0.0, 0.0, 2.0], recorder.Values("parallelexec.http.wait.duration").Order());
        Assert.Equal(
            [(0.0, "failed"), (0.0, "succeeded"), (2.0, "succeeded")],
            recorder.Measurements("parallelexec.http.run.duration").Select(m => (m.Value, m.Tag(TelemetryTagNames.Outcome))).Order());
        Assert.Equal([0.0, 0.0], recorder.Values("parallelexec.http.queue.length").TakeLast(1).Concat(recorder.Values("parallelexec.http.in_flight").TakeLast(1)));
        Assert.All(recorder.Measurements("parallelexec.http.items.dropped"), m => Assert.Equal(name, m.Tag(TelemetryTagNames.Name)));
    }

    [Fact]
    public async Task AMeterFactoryGetsTheGatesInstruments()
    {
        using var factory = new TestMeterFactory();
        var name = "http-factory-" + Guid.NewGuid().ToString("N");
        using var recorder = new Recorder(name, meter => factory.Meters.Contains(meter));
        await using var gate = Exec.Http().WithName(name).WithMeterFactory(factory).Build();

        await gate.RunAsync("a", _ => ValueTask.FromResult(1));

        Assert.Equal([1.0], recorder.Values("parallelexec.http.items.submitted"));
        Assert.Equal([(1.0, "a")], recorder.Measurements("parallelexec.http.admitted").Select(m => (m.Value, m.Tag(TelemetryTagNames.Provider))));
    }

    [Fact]
    public async Task EachCallIsASpanUnderItsCallerTaggedWithItsProviderAndOutcome()
    {
        var name = "http-spans-" + Guid.NewGuid().ToString("N");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (Equals(activity.GetTagItem(TelemetryTagNames.Name), name))
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        await using var gate = Exec.Http().WithName(name).WithMaxDegreeOfParallelism(1).WithQueue(1, QueueFullMode.Reject).Build();

        using (var caller = new Activity("caller").Start())
        {
            Assert.Equal(1, await gate.RunAsync("a", _ => ValueTask.FromResult(1)));
            await Assert.ThrowsAsync<InvalidDataException>(() => gate.RunAsync<int>("b", _ => throw new InvalidDataException("boom")));
            var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var blocker = gate.RunAsync("c", async _ =>
            {
                await release.Task;
                return 0;
            });
            var queued = gate.RunAsync("c", _ => ValueTask.FromResult(0));
            await Assert.ThrowsAsync<ItemDroppedException>(() => gate.RunAsync("d", _ => ValueTask.FromResult(0)));
            release.SetResult();
            await Task.WhenAll(blocker, queued).WithTimeout();

            Assert.Equal(5, spans.Count);
            Assert.All(spans, span =>
            {
                Assert.Equal("parallelexec.http.call", span.OperationName);
                Assert.Equal(caller.TraceId, span.TraceId);
                Assert.Equal(caller.SpanId, span.ParentSpanId);
            });
        }

        var byProvider = spans.ToLookup(span => (string?)span.GetTagItem(TelemetryTagNames.Provider));
        var succeeded = Assert.Single(byProvider["a"]);
        Assert.Equal("succeeded", succeeded.GetTagItem(TelemetryTagNames.Outcome));
        Assert.Equal(ActivityStatusCode.Unset, succeeded.Status);
        var failed = Assert.Single(byProvider["b"]);
        Assert.Equal(("failed", ActivityStatusCode.Error), (failed.GetTagItem(TelemetryTagNames.Outcome), failed.Status));
        Assert.Equal("System.IO.InvalidDataException", Assert.Single(failed.Events, e => e.Name == "exception").Tags.Single(t => t.Key == "exception.type").Value);
        Assert.Equal(2, byProvider["c"].Count());
        var rejected = Assert.Single(byProvider["d"]);
        var dropEvent = Assert.Single(rejected.Events, e => e.Name == "parallelexec.item.dropped");
        Assert.Equal("rejected", dropEvent.Tags.Single(t => t.Key == TelemetryTagNames.DropReason).Value);
    }

    /// <summary>Records the measurements of one gate (by its name tag) on the meters <c>accept</c> picks.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();
        private readonly string _name;

        public Recorder(string name, Func<Meter, bool> accept)
        {
            _name = name;
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (accept(instrument.Meter) && instrument.Name.StartsWith("parallelexec.http.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
            _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
            _listener.Start();
        }

        public void Observe() => _listener.RecordObservableInstruments();

        public IEnumerable<(double Value, KeyValuePair<string, object?>[] Tags)> Measurements(string instrument) =>
            _measurements.Where(m => m.Instrument == instrument).Select(m => (m.Value, m.Tags)).ToArray();

        public IEnumerable<double> Values(string instrument) => Measurements(instrument).Select(m => m.Value).ToArray();

        public void Dispose() => _listener.Dispose();

        private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = tags.ToArray();
            if (copy.Any(t => t.Key == TelemetryTagNames.Name && Equals(t.Value, _name)))
            {
                _measurements.Enqueue((instrument.Name, value, copy));
            }
        }
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options);
            lock (Meters)
            {
                Meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in Meters)
            {
                meter.Dispose();
            }
        }
    }
}

/// <summary>Reads a tag of a recorded measurement.</summary>
internal static class MeasurementTagExtensions
{
    public static object? Tag(this (double Value, KeyValuePair<string, object?>[] Tags) measurement, string key) =>
        measurement.Tags.FirstOrDefault(t => t.Key == key).Value;
}
