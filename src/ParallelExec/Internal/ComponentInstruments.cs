using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace ParallelExec.Internal;

/// <summary>
/// The instruments every component has, named by one pattern: <c>parallelexec.&lt;component&gt;.&lt;what&gt;</c>, the same
/// name and unit for the same concept everywhere (see <c>docs/conventions.md</c>).
/// </summary>
/// <remarks>
/// <para>One set per (meter, component kind), created on first use and cached: the shared static meter by default, or
/// the meter an <see cref="IMeterFactory"/> returns. Instances are told apart by the <see cref="TelemetryTagNames.Name"/>
/// tag, never by instrument, so the instrument set does not grow with the number of instances.</para>
/// <para>Adding to an instrument nobody listens to costs a field read; components still guard per-item work that
/// computes a measurement (a timestamp, a tag list) with <see cref="Instrument.Enabled"/>.</para>
/// </remarks>
internal sealed class ComponentInstruments
{
    /// <summary>Histogram buckets for durations in seconds: 100 µs to 1 min, in roughly 1-2.5-5 steps.</summary>
    private static readonly double[] s_secondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private static readonly ConcurrentDictionary<string, ComponentInstruments> s_shared = new();
    private static readonly ConditionalWeakTable<Meter, ConcurrentDictionary<string, ComponentInstruments>> s_byMeter = new();

    private readonly ConcurrentDictionary<string, object> _extras = new();

    private ComponentInstruments(Meter meter, string component)
    {
        Meter = meter;
        Component = component;
        var prefix = "parallelexec." + component + ".";
        Submitted = meter.CreateCounter<long>(prefix + "items.submitted", "{item}", "Items handed to the component, refused ones included.");
        Failed = meter.CreateCounter<long>(prefix + "items.failed", "{item}", "Items whose work threw.");
        Dropped = meter.CreateCounter<long>(prefix + "items.dropped", "{item}",
            "Items that did not run to an outcome of their own, by reason (rejected, dropped_oldest, dropped_newest, drain_timeout, cancelled).");
        WaitDuration = CreateSecondsHistogram(meter, prefix + "wait.duration", "How long items waited between submission and start.");
        RunDuration = CreateSecondsHistogram(meter, prefix + "run.duration", "How long items ran, by outcome (succeeded, failed, cancelled).");
        meter.CreateObservableUpDownCounter(prefix + "queue.length", () => Live.Observe(static c => c.ReadLedger().Queued, static c => c.NameTag),
            "{item}", "Items waiting in the queue.");
        meter.CreateObservableUpDownCounter(prefix + "in_flight", () => Live.Observe(static c => c.ReadLedger().InFlight, static c => c.NameTag),
            "{item}", "Items running.");
    }

    /// <summary>Gets the meter the instruments belong to.</summary>
    public Meter Meter { get; }

    /// <summary>Gets the component segment of the instrument names, for example <c>workerpool</c>.</summary>
    public string Component { get; }

    /// <summary>Gets <c>parallelexec.&lt;component&gt;.items.submitted</c>.</summary>
    public Counter<long> Submitted { get; }

    /// <summary>Gets <c>parallelexec.&lt;component&gt;.items.failed</c>.</summary>
    public Counter<long> Failed { get; }

    /// <summary>Gets <c>parallelexec.&lt;component&gt;.items.dropped</c>, tagged with <see cref="TelemetryTagNames.DropReason"/>.</summary>
    public Counter<long> Dropped { get; }

    /// <summary>Gets <c>parallelexec.&lt;component&gt;.wait.duration</c>, in seconds.</summary>
    public Histogram<double> WaitDuration { get; }

    /// <summary>Gets <c>parallelexec.&lt;component&gt;.run.duration</c>, in seconds, tagged with <see cref="TelemetryTagNames.Outcome"/>.</summary>
    public Histogram<double> RunDuration { get; }

    /// <summary>Gets the live instances that <c>queue.length</c> and <c>in_flight</c> read.</summary>
    public GaugeRegistry<IInstrumentedComponent> Live { get; } = new();

    /// <summary>Gets the instruments of one component kind on the shared meter or the factory's meter.</summary>
    /// <param name="component">The component segment of the names, lower case, for example <c>workerpool</c>.</param>
    /// <param name="meterFactory">The application's factory, or <see langword="null"/> for the shared meter.</param>
    /// <returns>The cached set.</returns>
    public static ComponentInstruments Get(string component, IMeterFactory? meterFactory)
    {
        if (meterFactory is null)
        {
            return s_shared.GetOrAdd(component, static c => new ComponentInstruments(Telemetry.Meter, c));
        }

        var meter = meterFactory.Create(new MeterOptions(ParallelExecTelemetry.MeterName) { Version = Telemetry.Version });
        return s_byMeter.GetValue(meter, static _ => new ConcurrentDictionary<string, ComponentInstruments>())
            .GetOrAdd(component, c => new ComponentInstruments(meter, c));
    }

    /// <summary>Gets a component's own extra instrument (or set of them), created once per meter.</summary>
    /// <typeparam name="T">The instrument or a holder of several.</typeparam>
    /// <param name="key">A key unique within the component.</param>
    /// <param name="create">Creates it from the meter.</param>
    /// <returns>The cached instrument.</returns>
    public T GetExtra<T>(string key, Func<Meter, T> create)
        where T : class =>
        (T)_extras.GetOrAdd(key, static (_, state) => state.create(state.meter), (create, meter: Meter));

    /// <summary>Creates a histogram in seconds with the library's bucket advice.</summary>
    /// <param name="meter">The meter.</param>
    /// <param name="name">The instrument name.</param>
    /// <param name="description">What it measures.</param>
    /// <returns>The histogram.</returns>
    public static Histogram<double> CreateSecondsHistogram(Meter meter, string name, string description) =>
        meter.CreateHistogram(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = s_secondsBuckets });

    /// <summary>The value of the <see cref="TelemetryTagNames.DropReason"/> tag: the reason in snake case.</summary>
    /// <param name="reason">The reason.</param>
    /// <returns>For example <c>dropped_oldest</c>.</returns>
    public static string ReasonTag(DropReason reason) => reason switch
    {
        DropReason.Rejected => "rejected",
        DropReason.DroppedOldest => "dropped_oldest",
        DropReason.DroppedNewest => "dropped_newest",
        DropReason.DrainTimeout => "drain_timeout",
        DropReason.Cancelled => "cancelled",
        _ => reason.ToString(),
    };
}
