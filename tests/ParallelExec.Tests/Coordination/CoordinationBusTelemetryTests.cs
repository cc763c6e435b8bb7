using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Coordination;

/// <summary>The bus's spans (publish, and deliver as its child) and its standard instruments, seen through listeners.</summary>
public sealed class CoordinationBusTelemetryTests : IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public CoordinationBusTelemetryTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task Publish_and_deliver_spans_carry_the_topic_and_deliver_is_the_child_of_publish()
    {
        await using var bus = Exec.Bus().WithName("traced").Build();
        var inHandler = new ConcurrentQueue<string?>();
        using var subscription = bus.Subscribe<int>("orders.created", m => inHandler.Enqueue(Activity.Current?.OperationName));
        using var caller = new Activity("caller").Start();

        await bus.PublishAsync("orders.created", 1);

        Assert.Same(caller, Activity.Current); // the publish span does not leak into the publisher
        await TestTimeout.WaitUntilAsync(() => Spans("traced", BusSpan.Deliver).Length == 1);
        var publish = Assert.Single(Spans("traced", BusSpan.Publish));
        var deliver = Assert.Single(Spans("traced", BusSpan.Deliver));
        Assert.Equal(caller.SpanId, publish.ParentSpanId);
        Assert.Equal((ActivityKind.Producer, "orders.created"), (publish.Kind, publish.GetTagItem(TelemetryTagNames.Topic)));
        Assert.Equal(publish.TraceId, deliver.TraceId);
        Assert.Equal(publish.SpanId, deliver.ParentSpanId);
        Assert.Equal((ActivityKind.Consumer, "orders.created"), (deliver.Kind, deliver.GetTagItem(TelemetryTagNames.Topic)));
        Assert.Equal("parallelexec.bus.deliver", Assert.Single(inHandler)); // the handler runs inside its delivery's span
    }

    [Fact]
    public async Task A_publisher_that_waits_for_room_gets_its_own_activity_back_and_the_publish_span_ends_after_the_wait()
    {
        await using var bus = Exec.Bus().WithName("traced-wait").Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var slow = bus.Subscribe<int>("t", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
        }, new SubscriptionOptions { QueueCapacity = 1 });
        using var caller = new Activity("caller").Start();
        await bus.PublishAsync("t", 0);
        await started.Task.WithTimeout();
        await bus.PublishAsync("t", 1);

        var waiting = bus.PublishAsync("t", 2);
        Assert.False(waiting.IsCompleted);
        Assert.Same(caller, Activity.Current);
        Assert.Equal(2, Spans("traced-wait", BusSpan.Publish).Length);

        gate.SetResult();
        await waiting.WithTimeout();
        Assert.Same(caller, Activity.Current);
        Assert.All(Spans("traced-wait", BusSpan.Publish), span => Assert.Equal(caller.SpanId, span.ParentSpanId));
        await TestTimeout.WaitUntilAsync(() => Spans("traced-wait", BusSpan.Deliver).Length == 3);
        Assert.Equal(3, Spans("traced-wait", BusSpan.Publish).Length);
    }

    [Fact]
    public async Task A_failure_without_OnError_is_recorded_on_its_delivery_span_and_counted()
    {
        var failed = 0L;
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name == "parallelexec.bus.items.failed")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == TelemetryTagNames.Name && (string?)tag.Value == "traced-failure")
                {
                    Interlocked.Add(ref failed, value);
                }
            }
        });
        meters.Start();
        await using var bus = Exec.Bus().WithName("traced-failure").Build();
        using var subscription = bus.Subscribe<int>("t", m => throw new InvalidOperationException($"bad {m.Message}"));

        await bus.PublishAsync("t", 5);

        await TestTimeout.WaitUntilAsync(() => Spans("traced-failure", BusSpan.Deliver).Length == 1);
        var deliver = Assert.Single(Spans("traced-failure", BusSpan.Deliver));
        Assert.Equal((ActivityStatusCode.Error, "bad 5"), (deliver.Status, deliver.StatusDescription));
        var exception = Assert.Single(deliver.Events, e => e.Name == "exception");
        Assert.Equal(typeof(InvalidOperationException).FullName, exception.Tags.Single(t => t.Key == "exception.type").Value);
        Assert.Equal(1, Interlocked.Read(ref failed));
    }

    [Fact]
    public async Task Queue_length_and_in_flight_report_each_bus_by_name()
    {
        var observed = new ConcurrentDictionary<string, long>();
        using var meters = new MeterListener();
        meters.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name is "parallelexec.bus.queue.length" or "parallelexec.bus.in_flight")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == TelemetryTagNames.Name && (string?)tag.Value == "gauged")
                {
                    observed[instrument.Name] = value;
                }
            }
        });
        meters.Start();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var bus = Exec.Bus().WithName("gauged").Build();
        using var subscription = bus.Subscribe<int>("t", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
        });
        for (var i = 0; i < 4; i++)
        {
            await bus.PublishAsync("t", i);
        }

        await started.Task.WithTimeout();
        meters.RecordObservableInstruments();
        Assert.Equal((3L, 1L), (observed["parallelexec.bus.queue.length"], observed["parallelexec.bus.in_flight"]));

        gate.SetResult();
        await bus.DisposeAsync().WithTimeout();
        observed.Clear();
        meters.RecordObservableInstruments();
        Assert.Empty(observed); // a disposed bus leaves the gauge registry
    }

    private Activity[] Spans(string busName, string operation) =>
        [.. _stopped.Where(a => a.OperationName == operation && (string?)a.GetTagItem(TelemetryTagNames.Name) == busName)];

    private static class BusSpan
    {
        public const string Publish = "parallelexec.bus.publish";
        public const string Deliver = "parallelexec.bus.deliver";
    }
}
