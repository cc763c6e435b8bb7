using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>The pool's instruments, told apart from other pools' by the name tag.</summary>
public sealed class AgentPoolTelemetryTests
{
    [Fact]
    public async Task Instruments_ReportSpawnsCrashesQueueWaitAndGauges_TaggedWithThePoolName()
    {
        var name = "telemetry-" + Guid.NewGuid().ToString("N");
        var measurements = new ConcurrentQueue<(string Instrument, double Value)>();
        using var listener = new MeterListener
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
            foreach (var tag in tags)
            {
                if (tag.Key == TelemetryTagNames.Name && (string?)tag.Value == name)
                {
                    measurements.Enqueue((instrument.Name, value));
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        var factory = new RecordingFactory((agent, request, ct) => request == "crash"
            ? ValueTask.FromException<string>(new AgentCrashedException(agent.Id, 1, "boom", null))
            : ValueTask.FromResult(request));
        await using (var pool = Exec.Agents(factory).WithName(name).WithMaxAgents(1).Build())
        {
            await pool.RunAsync("x").WithTimeout();
            await Assert.ThrowsAsync<AgentCrashedException>(() => pool.RunAsync("crash").AsTask()).WithTimeout();
            await pool.RunAsync("y").WithTimeout();
            listener.RecordObservableInstruments();
        }

        var names = measurements.Select(m => m.Instrument).ToHashSet();
        Assert.Equal(2, measurements.Where(m => m.Instrument == "parallelexec.agents.spawned").Sum(m => m.Value));
        Assert.Equal(1, measurements.Where(m => m.Instrument == "parallelexec.agents.crashes").Sum(m => m.Value));
        Assert.Contains("parallelexec.agents.spawn.duration", names);
        Assert.Contains("parallelexec.agents.queue.wait", names);
        Assert.Contains("parallelexec.agents.idle", names);
        Assert.Contains("parallelexec.agents.busy", names);
        Assert.Contains("parallelexec.agents.queue.length", names);
    }
}
