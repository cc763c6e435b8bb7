using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>The pool's instruments and spans, told apart from other pools' by the name tag.</summary>
public sealed class AgentPoolTelemetryTests
{
    private sealed record Measured(string Instrument, double Value, Dictionary<string, object?> Tags);

    private static MeterListener ListenTo(string name, ConcurrentQueue<Measured> measurements)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.agents.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var all = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                all[tag.Key] = tag.Value;
            }

            if (all.TryGetValue(TelemetryTagNames.Name, out var tagged) && (string?)tagged == name)
            {
                measurements.Enqueue(new Measured(instrument.Name, value, all));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        return listener;
    }

    private static ActivityListener ListenToSpans(string name, ConcurrentQueue<Activity> stopped)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if ((string?)activity.GetTagItem(TelemetryTagNames.Name) == name)
                {
                    stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    [Fact]
    public async Task Standard_and_own_instruments_are_emitted_tagged_with_the_pool_name()
    {
        var name = "telemetry-" + Guid.NewGuid().ToString("N");
        var measurements = new ConcurrentQueue<Measured>();
        using var listener = ListenTo(name, measurements);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            if (request == "hold")
            {
                await release.Task;
            }

            return request == "crash" ? throw new AgentCrashedException(agent.Id, 1, "boom", null) : request;
        });
        await using (var pool = Exec.Agents(factory).WithName(name).WithMaxAgents(1).WithQueue(1, QueueFullMode.Reject).Build())
        {
            await pool.RunAsync("x").WithTimeout();
            await Assert.ThrowsAsync<AgentCrashedException>(() => pool.RunAsync("crash").AsTask()).WithTimeout();
            var held = pool.RunAsync("hold").AsTask();
            await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
            var queued = pool.RunAsync("queued").AsTask();
            await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);
            await Assert.ThrowsAsync<ItemDroppedException>(() => pool.RunAsync("refused").AsTask()).WithTimeout();
            listener.RecordObservableInstruments();
            release.SetResult();
            Assert.Equal(["hold", "queued"], await Task.WhenAll(held, queued).WithTimeout());
        }

        double Sum(string instrument) => measurements.Where(m => m.Instrument == instrument).Sum(m => m.Value);
        double Gauge(string instrument) => measurements.Single(m => m.Instrument == instrument).Value;
        Assert.Equal(5, Sum("parallelexec.agents.items.submitted"));
        Assert.Equal(1, Sum("parallelexec.agents.items.failed"));
        var dropped = Assert.Single(measurements, m => m.Instrument == "parallelexec.agents.items.dropped");
        Assert.Equal("rejected", dropped.Tags[TelemetryTagNames.DropReason]);
        Assert.Equal(1, Gauge("parallelexec.agents.queue.length"));
        Assert.Equal(1, Gauge("parallelexec.agents.in_flight"));
        Assert.Equal(1, Gauge("parallelexec.agents.busy"));
        Assert.Equal(0, Gauge("parallelexec.agents.idle"));
        Assert.Equal(4, measurements.Count(m => m.Instrument == "parallelexec.agents.wait.duration"));
        var runs = measurements.Where(m => m.Instrument == "parallelexec.agents.run.duration").Select(m => (string?)m.Tags[TelemetryTagNames.Outcome]).Order();
        Assert.Equal(["failed", "succeeded", "succeeded", "succeeded"], runs);
        Assert.Equal(2, Sum("parallelexec.agents.spawned"));
        Assert.Equal(1, Sum("parallelexec.agents.crashes"));
        Assert.Equal(2, measurements.Count(m => m.Instrument == "parallelexec.agents.spawn.duration"));
        string[] conventional =
        [
            "parallelexec.agents.items.submitted", "parallelexec.agents.items.failed", "parallelexec.agents.items.dropped",
            "parallelexec.agents.queue.length", "parallelexec.agents.in_flight", "parallelexec.agents.wait.duration",
            "parallelexec.agents.run.duration", "parallelexec.agents.spawned", "parallelexec.agents.spawn.failures",
            "parallelexec.agents.spawn.duration", "parallelexec.agents.crashes", "parallelexec.agents.recycled",
            "parallelexec.agents.idle", "parallelexec.agents.busy",
        ];
        Assert.All(measurements, m => Assert.Contains(m.Instrument, conventional));
    }

    [Fact]
    public async Task Spawn_and_request_spans_are_children_of_the_caller_and_carry_the_agent_kind()
    {
        var name = "spans-" + Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = ListenToSpans(name, stopped);
        var factory = new RecordingFactory((agent, request, ct) =>
            request == "bad" ? ValueTask.FromException<string>(new AgentException(agent.Id, "bad request", null)) : ValueTask.FromResult(request));
        using var caller = new Activity("caller").Start();
        await using (var pool = Exec.Agents(factory).WithName(name).WithSpec(new AgentSpec { Kind = "model", Name = "m" }).WithMaxAgents(1).Build())
        {
            Assert.Equal("ok", await pool.RunAsync("ok").WithTimeout());
            await Assert.ThrowsAsync<AgentException>(() => pool.RunAsync("bad").AsTask()).WithTimeout();
        }

        caller.Stop();

        // The spawn's span ends just after its agent joined the pool, which may be after the request it served returned.
        await TestTimeout.WaitUntilAsync(() => stopped.Any(a => a.OperationName == "parallelexec.agents.spawn"));
        var requests = stopped.Where(a => a.OperationName == "parallelexec.agents.request").ToList();
        Assert.Equal(2, requests.Count);
        Assert.All(requests, span =>
        {
            Assert.Equal(caller.TraceId, span.TraceId);
            Assert.Equal(caller.SpanId, span.ParentSpanId);
            Assert.Equal("model", span.GetTagItem(TelemetryTagNames.AgentKind));
        });
        Assert.Single(requests, span => span.Status == ActivityStatusCode.Error && span.Events.Any(e => e.Name == "exception"));
        var spawn = Assert.Single(stopped, a => a.OperationName == "parallelexec.agents.spawn");
        Assert.Equal("model", spawn.GetTagItem(TelemetryTagNames.AgentKind));
        Assert.Equal(caller.TraceId, spawn.TraceId);
    }

    [Fact]
    public async Task A_request_evicted_from_the_queue_gets_the_drop_event_on_its_own_span()
    {
        var name = "evicted-" + Guid.NewGuid().ToString("N");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = ListenToSpans(name, stopped);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var factory = new RecordingFactory(async (agent, request, ct) =>
        {
            await release.Task;
            return request;
        });
        await using var pool = Exec.Agents(factory).WithName(name).WithMaxAgents(1).WithQueue(1, QueueFullMode.DropOldest).Build();
        await pool.WarmUpAsync(1).WithTimeout();
        var held = pool.RunAsync("held").AsTask();
        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.InFlight == 1);
        Task<string> evicted;
        ActivityTraceId evictedTrace;
        using (var own = new Activity("evicted-caller").Start())
        {
            evictedTrace = own.TraceId;
            evicted = pool.RunAsync("evicted").AsTask();
        }

        await TestTimeout.WaitUntilAsync(() => pool.GetStatistics().Ledger.Queued == 1);
        var newcomer = pool.RunAsync("newcomer").AsTask();
        Assert.Equal(DropReason.DroppedOldest, (await Assert.ThrowsAsync<ItemDroppedException>(() => evicted).WithTimeout()).Reason);
        release.SetResult();
        Assert.Equal(["held", "newcomer"], await Task.WhenAll(held, newcomer).WithTimeout());

        await TestTimeout.WaitUntilAsync(() => stopped.Count(a => a.OperationName == "parallelexec.agents.request") == 3);
        var span = Assert.Single(stopped, a => a.OperationName == "parallelexec.agents.request" && a.TraceId == evictedTrace);
        var dropEvent = Assert.Single(span.Events, e => e.Name == "parallelexec.item.dropped");
        Assert.Equal("dropped_oldest", dropEvent.Tags.Single(t => t.Key == TelemetryTagNames.DropReason).Value);
        Assert.DoesNotContain(stopped.Where(a => a.TraceId != evictedTrace), a => a.Events.Any(e => e.Name == "parallelexec.item.dropped"));
    }

    [Fact]
    public void An_undisposed_pool_is_not_kept_alive_by_the_gauges()
    {
        var reference = CreateAndForget();
        for (var i = 0; i < 5 && IsAlive(reference); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(IsAlive(reference), "the gauge registry keeps an undisposed pool alive");
    }

    // Not inlined, so that no stack slot of the test method holds the pool (an unoptimized 'out _' would).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<AgentPool<DelegateAgent>> CreateAndForget() =>
        new(Exec.Agents(new RecordingFactory()).WithName("forgotten-" + Guid.NewGuid().ToString("N")).Build());

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool IsAlive(WeakReference<AgentPool<DelegateAgent>> reference) => reference.TryGetTarget(out _);
}
