using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>
/// What one bus reports through: the standard <c>parallelexec.bus.*</c> instruments (an item is one delivery to one
/// subscriber), the bus's own two (messages published, dead letters), the drop/error reporter, and the spans
/// <c>parallelexec.bus.publish</c> and <c>parallelexec.bus.deliver</c>. Every per-message cost is behind a check that
/// someone listens.
/// </summary>
internal sealed class BusTelemetry
{
    public const string PublishSpan = "parallelexec.bus.publish";
    public const string DeliverSpan = "parallelexec.bus.deliver";

    private readonly Extras _extras;

    public BusTelemetry(CoordinationBusOptions options)
    {
        Instruments = ComponentInstruments.Get("bus", options.MeterFactory);
        _extras = Instruments.GetExtra("bus", static meter => new Extras(meter));
        Reporter = new ItemReporter(options.Name, options.TimeProvider, Instruments, options.OnDropped, options.OnError);
    }

    public ComponentInstruments Instruments { get; }

    public ItemReporter Reporter { get; }

    public KeyValuePair<string, object?> NameTag => Reporter.NameTag;

    /// <summary>Whether a publish must capture anything for its deliveries (a trace context, a timestamp).</summary>
    public bool ObservesDeliveries => Telemetry.ActivitySource.HasListeners() || Instruments.WaitDuration.Enabled;

    public void Published()
    {
        if (_extras.Published.Enabled)
        {
            _extras.Published.Add(1, NameTag);
        }
    }

    public void CountDeadLetter(DeadLetterReason reason)
    {
        if (_extras.DeadLetters.Enabled)
        {
            _extras.DeadLetters.Add(1, NameTag, new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, reason == DeadLetterReason.NoSubscribers ? "no_subscribers" : "handler_failed"));
        }
    }

    /// <summary>Counts one delivery offered to a subscriber (accepted or refused).</summary>
    public void Submitted()
    {
        if (Instruments.Submitted.Enabled)
        {
            Reporter.Submitted();
        }
    }

    /// <summary>Starts a span tagged with the topic when someone listens; null otherwise.</summary>
    public Activity? StartSpan(string name, string topic, ActivityContext parent, ActivityKind kind)
    {
        var span = Telemetry.StartSpan(name, Reporter.Name, parent, kind);
        span?.SetTag(TelemetryTagNames.Topic, topic);
        return span;
    }

    /// <summary>Records how long a delivery waited between its publish and its handler's start.</summary>
    public void RecordWait(TimeProvider timeProvider, Envelope envelope)
    {
        if (envelope.PublishedTimestamp != 0 && Instruments.WaitDuration.Enabled)
        {
            Instruments.WaitDuration.Record(timeProvider.GetElapsedTime(envelope.PublishedTimestamp).TotalSeconds, NameTag);
        }
    }

    /// <summary>Records how long a handler ran and how it ended.</summary>
    public void RecordRun(TimeProvider timeProvider, long started, string outcome)
    {
        if (started != 0)
        {
            Instruments.RunDuration.Record(timeProvider.GetElapsedTime(started).TotalSeconds, NameTag, new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, outcome));
        }
    }

    /// <summary>The bus's own instruments, created once per meter.</summary>
    private sealed class Extras(Meter meter)
    {
        public Counter<long> Published { get; } = meter.CreateCounter<long>(
            "parallelexec.bus.messages.published", "{message}", "Messages published to the coordination bus (each fans out to its matching subscribers).");

        public Counter<long> DeadLetters { get; } = meter.CreateCounter<long>(
            "parallelexec.bus.dead_letters", "{message}", "Messages sent to the dead letters, by outcome (no_subscribers, handler_failed).");
    }
}
