using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>
/// The pool's instruments and its span per item, observed through a <see cref="MeterListener"/> and an
/// <see cref="ActivityListener"/>. The listeners are process-wide, so each test names its pool and keeps only its own
/// measurements and spans.
/// </summary>
public class WorkerPoolTelemetryTests
{
    private const string ItemSpan = "parallelexec.workerpool.item";

    [Fact]
    public async Task EveryStandardInstrumentReportsThePoolsItemsUnderItsName()
    {
        const string Name = "telemetry-metrics";
        var measurements = new ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.workerpool.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };

        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dictionary = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                dictionary[tag.Key] = tag.Value;
            }

            if (Equals(dictionary.GetValueOrDefault(TelemetryTagNames.Name), Name))
            {
                measurements.Enqueue((instrument.Name, value, dictionary));
            }
        }

        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        listener.Start();

        var failures = new ConcurrentQueue<FailedItem>();
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithQueue(1, QueueFullMode.Reject).WithName(Name)
            .OnError(failures.Enqueue).Build();
        await pool.RunAsync(_ => ValueTask.CompletedTask).WithTimeout();
        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.RunAsync(_ => throw new InvalidOperationException()).AsTask()).WithTimeout();

        // Hold the only worker, fill the one queue slot, and have the next post refused.
        var release = new Gate();
        using var opener = release.OpenOnDispose();
        var started = new Gate();
        Assert.Equal(PostResult.Accepted, pool.TryPost(async _ => { started.Open(); await release.WaitAsync(); }));
        await started.Task.WithTimeout();
        Assert.Equal(PostResult.Accepted, pool.TryPost(_ => throw new InvalidOperationException("posted")));
        Assert.Equal(PostResult.Rejected, pool.TryPost(_ => ValueTask.CompletedTask));
        listener.RecordObservableInstruments();
        release.Open();
        await TestTimeout.WaitUntilAsync(() => failures.Count == 1);
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 0);

        double Sum(string instrument, string? tag = null, object? value = null) => measurements
            .Where(m => m.Instrument == instrument && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value)))
            .Sum(m => m.Value);

        Assert.Equal(5, Sum("parallelexec.workerpool.items.submitted"));
        Assert.Equal(2, Sum("parallelexec.workerpool.items.failed"));
        Assert.Equal(1, Sum("parallelexec.workerpool.items.dropped", TelemetryTagNames.DropReason, "rejected"));
        Assert.Equal(1, Sum("parallelexec.workerpool.queue.length"));
        Assert.Equal(1, Sum("parallelexec.workerpool.in_flight"));
        Assert.Equal(1, Sum("parallelexec.workerpool.max_degree_of_parallelism"));
        Assert.Contains(measurements, m => m.Instrument == "parallelexec.workerpool.wait.duration");
        Assert.Contains(measurements, m => m.Instrument == "parallelexec.workerpool.run.duration" && Equals(m.Tags[TelemetryTagNames.Outcome], "succeeded"));
        Assert.Equal(2, measurements.Count(m => m.Instrument == "parallelexec.workerpool.run.duration" && Equals(m.Tags[TelemetryTagNames.Outcome], "failed")));
    }

    [Fact]
    public async Task EachItemRunsInASpanParentedToTheSubmittersActivity()
    {
        const string Name = "telemetry-spans";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = StartSpanListener(Name, spans);
        using var source = new ActivitySource("ParallelExec.Tests.Submitter");
        using var sourceListener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == source.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(sourceListener);

        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).WithName(Name).Build();
        ActivityContext submitter;
        Activity? seenInWork = null;
        Task awaited;
        using (var parent = source.StartActivity("submit")!)
        {
            submitter = parent.Context;
            awaited = pool.RunAsync(_ => { seenInWork = Activity.Current; return ValueTask.CompletedTask; }).AsTask();
            Assert.Equal(PostResult.Accepted, pool.TryPost(_ => ValueTask.CompletedTask));
        }

        await awaited.WithTimeout();
        await TestTimeout.WaitUntilAsync(() => spans.Count == 2);

        Assert.All(spans, span =>
        {
            Assert.Equal(ItemSpan, span.OperationName);
            Assert.Equal(submitter.TraceId, span.TraceId);
            Assert.Equal(submitter.SpanId, span.ParentSpanId);
            Assert.Equal("succeeded", span.GetTagItem(TelemetryTagNames.Outcome));
        });
        Assert.Contains(spans, span => ReferenceEquals(span, seenInWork));
    }

    [Fact]
    public async Task APostedFailureWithoutOnErrorIsRecordedOnItsSpan()
    {
        const string Name = "telemetry-failure";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = StartSpanListener(Name, spans);
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithName(Name).Build();

        Assert.Equal(PostResult.Accepted, pool.TryPost(_ => throw new InvalidOperationException("no handler")));
        await TestTimeout.WaitUntilAsync(() => spans.Count == 1);

        var span = Assert.Single(spans);
        Assert.Equal(ActivityStatusCode.Error, span.Status);
        var exception = Assert.Single(span.Events, e => e.Name == "exception");
        Assert.Equal("no handler", exception.Tags.Single(t => t.Key == "exception.message").Value);
        Assert.Equal(1, pool.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public async Task ACancelledPostedItemLeavesADropEventOnItsSpan()
    {
        const string Name = "telemetry-cancel";
        var spans = new ConcurrentQueue<Activity>();
        using var listener = StartSpanListener(Name, spans);
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithName(Name).Build();
        using var cts = new CancellationTokenSource();
        var started = new Gate();

        await pool.PostAsync(async ct => { started.Open(); await Task.Delay(Timeout.Infinite, ct); }, cts.Token).WithTimeout();
        await started.Task.WithTimeout();
        await cts.CancelAsync();
        await TestTimeout.WaitUntilAsync(() => spans.Count == 1);

        var span = Assert.Single(spans);
        Assert.Equal("cancelled", span.GetTagItem(TelemetryTagNames.Outcome));
        var dropped = Assert.Single(span.Events, e => e.Name == "parallelexec.item.dropped");
        Assert.Equal("cancelled", dropped.Tags.Single(t => t.Key == TelemetryTagNames.DropReason).Value);
    }

    private static ActivityListener StartSpanListener(string poolName, ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.OperationName == ItemSpan && Equals(activity.GetTagItem(TelemetryTagNames.Name), poolName))
                {
                    stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
