using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Memory;

/// <summary>
/// What one memory store instance counts and emits, the same for every store: the lookup and bulk-call counts its
/// <c>GetStatistics()</c> reports, and the standard <c>parallelexec.memory.*</c>
/// instruments tagged with <see cref="TelemetryTagNames.Operation"/> (<c>get</c>, <c>set</c>, <c>remove</c>,
/// <c>list</c>), the store's own <c>parallelexec.memory.hits</c>, <c>.misses</c> and <c>.expired</c> counters, and a
/// span <c>parallelexec.memory.&lt;operation&gt;</c> per bulk call.
/// </summary>
/// <remarks>
/// Free when nobody listens: a duration is timed only when <c>run.duration</c> is enabled, and a span is started only
/// when the activity source has listeners. Takes no lock; call it outside the store's own lock (the reporter runs user
/// callbacks).
/// </remarks>
internal sealed class MemoryStoreTelemetry
{
    private static readonly string[] s_operationNames = ["get", "set", "remove", "list"];
    private static readonly string[] s_spanNames = ["parallelexec.memory.get", "parallelexec.memory.set", "parallelexec.memory.remove", "parallelexec.memory.list"];

    private readonly KeyValuePair<string, object?>[] _operationTags;
    private readonly LookupCounters _lookups;
    private readonly TimeProvider _timeProvider;
    private long _hits;
    private long _misses;
    private long _expired;
    private long _bulkCalls;

    /// <summary>Creates the telemetry of one store.</summary>
    /// <param name="options">The store's options: its name, clock and meter factory.</param>
    /// <param name="onDropped">The store's drop callback, if it has one.</param>
    public MemoryStoreTelemetry(ComponentOptions options, Action<DroppedItem>? onDropped = null)
    {
        _timeProvider = options.TimeProvider;
        Instruments = ComponentInstruments.Get("memory", options.MeterFactory);
        Reporter = new ItemReporter(options.Name, options.TimeProvider, Instruments, onDropped, onError: null);
        _lookups = Instruments.GetExtra("memory.lookups", static meter => new LookupCounters(meter));
        _operationTags = Array.ConvertAll(s_operationNames, static name => new KeyValuePair<string, object?>(TelemetryTagNames.Operation, name));
    }

    /// <summary>Gets the <c>parallelexec.memory.*</c> instruments.</summary>
    public ComponentInstruments Instruments { get; }

    /// <summary>Gets the reporter of items the store drops.</summary>
    public ItemReporter Reporter { get; }

    /// <summary>Gets the store's <see cref="TelemetryTagNames.Name"/> tag.</summary>
    public KeyValuePair<string, object?> NameTag => Reporter.NameTag;

    /// <summary>Counts an operation's keys as submitted and starts timing it when its duration is recorded.</summary>
    /// <param name="operation">The operation.</param>
    /// <param name="keys">How many keys it carries (zero for a listing).</param>
    /// <returns>The start timestamp, or zero when nobody records durations.</returns>
    public long Begin(MemoryOperation operation, int keys)
    {
        if (keys > 0)
        {
            Instruments.Submitted.Add(keys, NameTag, _operationTags[(int)operation]);
        }

        return Instruments.RunDuration.Enabled ? _timeProvider.GetTimestamp() : 0;
    }

    /// <summary>Records how an operation ended: its duration by outcome, and its keys as failed when it failed.</summary>
    /// <param name="operation">The operation.</param>
    /// <param name="keys">How many keys it carried.</param>
    /// <param name="outcome">How it ended.</param>
    /// <param name="started">What <see cref="Begin"/> returned.</param>
    public void End(MemoryOperation operation, int keys, ItemOutcome outcome, long started)
    {
        var operationTag = _operationTags[(int)operation];
        if (outcome == ItemOutcome.Failed && keys > 0)
        {
            Instruments.Failed.Add(keys, NameTag, operationTag);
        }

        if (started != 0)
        {
            var outcomeTag = outcome switch
            {
                ItemOutcome.Succeeded => Telemetry.Succeeded,
                ItemOutcome.Failed => Telemetry.Failed,
                _ => Telemetry.Cancelled,
            };
            Instruments.RunDuration.Record(_timeProvider.GetElapsedTime(started).TotalSeconds, NameTag, operationTag,
                new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, outcomeTag));
        }
    }

    /// <summary>Counts one bulk call (a listing is not one) and starts its span, when someone listens.</summary>
    /// <param name="operation">The operation.</param>
    /// <param name="keys">How many keys the call carries.</param>
    /// <returns>The span, or <see langword="null"/>.</returns>
    public Activity? StartBulkSpan(MemoryOperation operation, int keys)
    {
        if (operation != MemoryOperation.List)
        {
            Interlocked.Increment(ref _bulkCalls);
        }

        var span = Telemetry.StartSpan(s_spanNames[(int)operation], Reporter.Name);
        if (span is not null)
        {
            span.SetTag(TelemetryTagNames.Operation, s_operationNames[(int)operation]);
            span.SetTag("parallelexec.memory.keys", keys);
        }

        return span;
    }

    /// <summary>Counts reads that found a live value and reads that found none.</summary>
    /// <param name="hits">Keys found.</param>
    /// <param name="misses">Keys absent or expired.</param>
    public void Lookups(int hits, int misses)
    {
        if (hits > 0)
        {
            Interlocked.Add(ref _hits, hits);
            _lookups.Hits.Add(hits, NameTag);
        }

        if (misses > 0)
        {
            Interlocked.Add(ref _misses, misses);
            _lookups.Misses.Add(misses, NameTag);
        }
    }

    /// <summary>Counts expired entries the store removed.</summary>
    /// <param name="entries">How many.</param>
    public void Expired(long entries)
    {
        if (entries > 0)
        {
            Interlocked.Add(ref _expired, entries);
            _lookups.Expired.Add(entries, NameTag);
        }
    }

    /// <summary>Creates the store's statistics snapshot from its ledger and these counts.</summary>
    /// <param name="ledger">The store's ledger, read by the store.</param>
    /// <param name="entries">The entries the store holds, where it knows cheaply.</param>
    /// <param name="busyRetries">The retries the store made because its database was busy.</param>
    /// <returns>The snapshot.</returns>
    public MemoryStoreStatistics Statistics(LedgerSnapshot ledger, long? entries, long busyRetries = 0) => new(
        Reporter.Name,
        ledger,
        Interlocked.Read(ref _hits),
        Interlocked.Read(ref _misses),
        Interlocked.Read(ref _expired),
        entries,
        Interlocked.Read(ref _bulkCalls),
        busyRetries);

    /// <summary>The memory stores' own counters, created once per meter.</summary>
    private sealed class LookupCounters(Meter meter)
    {
        public Counter<long> Hits { get; } = meter.CreateCounter<long>("parallelexec.memory.hits", "{key}", "Reads that found a live value.");

        public Counter<long> Misses { get; } = meter.CreateCounter<long>("parallelexec.memory.misses", "{key}", "Reads that found no live value.");

        public Counter<long> Expired { get; } = meter.CreateCounter<long>("parallelexec.memory.expired", "{key}", "Expired entries removed by the store.");
    }
}
