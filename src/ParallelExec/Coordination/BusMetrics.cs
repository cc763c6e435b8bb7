using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>
/// The bus's instruments, created once from the library's single meter; instances are told apart by the
/// <see cref="TelemetryTagNames.Name"/> tag. Every recording checks <see cref="Instrument.Enabled"/> first so that an
/// unobserved bus pays nothing.
/// </summary>
internal static class BusMetrics
{
    // Live buses for the mailbox-depth gauge; weak, so a bus nobody disposed can still be collected.
    private static readonly ConditionalWeakTable<CoordinationBus, object?> s_liveBuses = new();

    private static readonly Counter<long> s_published = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.bus.published", "{message}", "Messages published to the coordination bus.");

    private static readonly Counter<long> s_delivered = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.bus.delivered", "{message}", "Message copies taken into subscriber mailboxes.");

    private static readonly Counter<long> s_dropped = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.bus.dropped", "{message}", "Message copies refused or evicted by full mailboxes, or discarded at a drain deadline.");

    private static readonly Counter<long> s_deadLettered = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.bus.deadlettered", "{message}", "Messages sent to the dead letters (no subscriber, or handler failure).");

    private static readonly Histogram<double> s_handlerDuration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.bus.handler.duration", "s", "How long subscriber handlers ran.");

    private static readonly ObservableGauge<int> s_mailboxDepth = Telemetry.Meter.CreateObservableGauge(
        "parallelexec.bus.mailbox.depth", ObserveMailboxDepth, "{message}", "Messages waiting in all mailboxes of a bus.");

    public static bool HandlerDurationEnabled => s_handlerDuration.Enabled;

    public static void Register(CoordinationBus bus) => s_liveBuses.AddOrUpdate(bus, null);

    public static void Unregister(CoordinationBus bus) => s_liveBuses.Remove(bus);

    public static void RecordPublished(CoordinationBus bus)
    {
        if (s_published.Enabled)
        {
            s_published.Add(1, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name));
        }
    }

    public static void RecordDelivered(CoordinationBus bus)
    {
        if (s_delivered.Enabled)
        {
            s_delivered.Add(1, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name));
        }
    }

    public static void RecordDropped(CoordinationBus bus, DropReason reason)
    {
        if (s_dropped.Enabled)
        {
            s_dropped.Add(1, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name), new KeyValuePair<string, object?>(TelemetryTagNames.DropReason, reason.ToString()));
        }
    }

    public static void RecordDeadLettered(CoordinationBus bus, DeadLetterReason reason)
    {
        if (s_deadLettered.Enabled)
        {
            s_deadLettered.Add(1, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name), new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, reason.ToString()));
        }
    }

    public static void RecordHandlerDuration(CoordinationBus bus, TimeSpan duration)
    {
        if (s_handlerDuration.Enabled)
        {
            s_handlerDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name));
        }
    }

    private static IEnumerable<Measurement<int>> ObserveMailboxDepth()
    {
        foreach (var (bus, _) in s_liveBuses)
        {
            yield return new Measurement<int>(bus.MailboxDepth, new KeyValuePair<string, object?>(TelemetryTagNames.Name, bus.Name));
        }
    }

    /// <summary>Keeps the gauge field read so the analyzers see it used; the meter holds the instrument regardless.</summary>
    internal static string MailboxDepthInstrumentName => s_mailboxDepth.Name;
}
