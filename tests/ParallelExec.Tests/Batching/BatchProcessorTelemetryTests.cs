using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>
/// The batch processor's instruments (<c>parallelexec.batch.*</c>) and its <c>parallelexec.batch.flush</c> span. Other
/// tests run in parallel on the same static meter and source, so every assertion filters on this test's own name tag.
/// </summary>
public sealed class BatchProcessorTelemetryTests
{
    private sealed record Measurement(string Instrument, double Value, Dictionary<string, object?> Tags);

    private static MeterListener Listen(string name, ConcurrentQueue<Measurement> measurements)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.batch.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            if (copy.TryGetValue(TelemetryTagNames.Name, out var tagged) && (string?)tagged == name)
            {
                measurements.Enqueue(new Measurement(instrument.Name, value, copy));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        return listener;
    }

    private static ActivityListener ListenToSpans(string name, ConcurrentQueue<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem(TelemetryTagNames.Name) == name)
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    [Fact]
    public async Task Every_standard_instrument_and_the_batch_extras_are_emitted_with_the_name_tag()
    {
        var name = "batch-metrics-" + Guid.NewGuid().ToString("N");
        var measurements = new ConcurrentQueue<Measurement>();
        using var listener = Listen(name, measurements);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var processor = Exec.Batch<int, int>(async (items, ct) =>
            {
                entered.TrySetResult();
                await release.Task.WaitAsync(ct);
                return items.Contains(13) ? throw new InvalidDataException("poison") : items.ToArray();
            })
            .WithName(name)
            .WithMaxBatchSize(2)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithQueue(2, QueueFullMode.Reject)
            .Build();

        var awaited = new[] { processor.SubmitAsync(1).AsTask(), processor.SubmitAsync(2).AsTask() };
        await entered.Task.WithTimeout();
        Assert.Equal(PostResult.Accepted, processor.TryPost(3));
        Assert.Equal(PostResult.Accepted, processor.TryPost(13));
        Assert.Equal(PostResult.Rejected, processor.TryPost(5));

        listener.RecordObservableInstruments();
        Assert.Equal(2, Observed("parallelexec.batch.queue.length"));
        Assert.Equal(2, Observed("parallelexec.batch.in_flight"));

        release.SetResult();
        Assert.Equal(new[] { 1, 2 }, await Task.WhenAll(awaited).WithTimeout());
        await processor.DisposeAsync().WithTimeout();

        Assert.Equal(5, Sum("parallelexec.batch.items.submitted"));
        Assert.Equal(2, Sum("parallelexec.batch.items.failed")); // 3 and 13, posted, with no OnError
        var dropped = Assert.Single(Named("parallelexec.batch.items.dropped"));
        Assert.Equal((1.0, "rejected"), (dropped.Value, (string?)dropped.Tags[TelemetryTagNames.DropReason]));
        Assert.Equal(2, Named("parallelexec.batch.wait.duration").Count());
        Assert.Equal(["failed", "succeeded"], Named("parallelexec.batch.run.duration").Select(m => (string?)m.Tags[TelemetryTagNames.Outcome]).Order());
        Assert.Equal([2.0, 2.0], Named("parallelexec.batch.size").Select(m => m.Value));
        Assert.Equal(["size", "size"], Named("parallelexec.batch.flushes").Select(m => (string?)m.Tags[TelemetryTagNames.FlushReason]));

        // A disposed processor leaves the gauge registry.
        var before = measurements.Count;
        listener.RecordObservableInstruments();
        Assert.Equal(before, measurements.Count);

        IEnumerable<Measurement> Named(string instrument) => measurements.Where(m => m.Instrument == instrument);
        double Sum(string instrument) => Named(instrument).Sum(m => m.Value);
        double Observed(string instrument) => Named(instrument).Last().Value;
    }

    [Fact]
    public async Task The_flush_span_links_to_every_submitters_context_and_is_a_root()
    {
        var name = "batch-links-" + Guid.NewGuid().ToString("N");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = ListenToSpans(name, spans);
        await using var processor = Exec.Batch<int, int>((items, _) => ValueTask.FromResult<IReadOnlyList<int>>(items.ToArray()))
            .WithName(name)
            .WithMaxBatchSize(3)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithCoalescing()
            .Build();

        var callers = new List<ActivityContext>();
        var results = new List<Task<int>>();
        foreach (var (caller, item, post) in new[] { ("caller-1", 1, false), ("caller-2", 1, false), ("caller-3", 2, true), ("caller-4", 3, false) })
        {
            using var activity = new Activity(caller).Start();
            callers.Add(activity.Context);
            if (post)
            {
                Assert.Equal(PostResult.Accepted, processor.TryPost(item));
            }
            else
            {
                results.Add(processor.SubmitAsync(item).AsTask());
            }
        }

        Assert.Equal(new[] { 1, 1, 3 }, await Task.WhenAll(results).WithTimeout());
        await processor.FlushAsync().WithTimeout();

        var span = Assert.Single(spans);
        Assert.Equal("parallelexec.batch.flush", span.OperationName);
        Assert.Equal(default, span.ParentSpanId);
        Assert.Equal(callers.OrderBy(c => c.SpanId.ToHexString()), span.Links.Select(l => l.Context).OrderBy(c => c.SpanId.ToHexString()));
        Assert.Equal("size", span.GetTagItem(TelemetryTagNames.FlushReason));
        Assert.Equal(3, span.GetTagItem("parallelexec.batch.size"));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
    }

    [Fact]
    public async Task Every_handler_call_of_a_bisection_has_its_span_and_a_posted_failure_is_recorded_on_its_own()
    {
        var name = "batch-bisect-" + Guid.NewGuid().ToString("N");
        var spans = new ConcurrentQueue<Activity>();
        using var listener = ListenToSpans(name, spans);
        var processor = Exec.Batch<int, int>((items, _) => items.Contains(3)
                ? throw new InvalidDataException("poison 3")
                : ValueTask.FromResult<IReadOnlyList<int>>(items.ToArray()))
            .WithName(name)
            .WithMaxBatchSize(4)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithFailureMode(BatchFailureMode.Bisect)
            .Build();

        foreach (var id in new[] { 1, 2, 3, 4 })
        {
            Assert.Equal(PostResult.Accepted, processor.TryPost(id));
        }

        await processor.DisposeAsync().WithTimeout();

        var statistics = processor.GetStatistics();
        Assert.Equal((3L, 1L), (statistics.Ledger.Succeeded, statistics.Ledger.Failed));
        Assert.Equal(5, statistics.HandlerCalls); // [1..4] fails, [1,2] succeeds, [3,4] fails, [3] fails, [4] succeeds
        Assert.Equal(5, spans.Count);
        Assert.All(spans, s => Assert.Equal(default, s.ParentSpanId)); // siblings, not nested in the failed call
        Assert.Equal([1, 2, 4], spans.Where(s => s.Status == ActivityStatusCode.Error).Select(s => (int)s.GetTagItem("parallelexec.batch.size")!).Order());
        var leaf = Assert.Single(spans, s => s.Status == ActivityStatusCode.Error && (int)s.GetTagItem("parallelexec.batch.size")! == 1);

        // The call's failure, and the posted item's own report (no OnError is set).
        Assert.Equal(2, leaf.Events.Count(e => e.Name == "exception"));
        Assert.All(leaf.Events, e => Assert.Equal("System.IO.InvalidDataException", e.Tags.First(t => t.Key == "exception.type").Value));
    }
}
