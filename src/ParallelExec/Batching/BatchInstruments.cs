using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

/// <summary>
/// The batch processor's own instruments, beside the standard ones of <see cref="ComponentInstruments"/>: what only a
/// batcher has (flushes by reason, items per batch). Created once per meter through
/// <see cref="ComponentInstruments.GetExtra{T}"/> and shared by every instance, told apart by the name tag.
/// </summary>
internal sealed class BatchInstruments
{
    private BatchInstruments(Meter meter)
    {
        Flushes = meter.CreateCounter<long>("parallelexec.batch.flushes", "{batch}", "Batches flushed, by flush reason (size, time, forced, dispose).");
        Size = meter.CreateHistogram<int>("parallelexec.batch.size", "{item}", "Distinct items per flushed batch.");
    }

    /// <summary>Gets <c>parallelexec.batch.flushes</c>, tagged with <see cref="TelemetryTagNames.FlushReason"/>.</summary>
    public Counter<long> Flushes { get; }

    /// <summary>Gets <c>parallelexec.batch.size</c>.</summary>
    public Histogram<int> Size { get; }

    /// <summary>Gets the extras that belong with a component kind's standard instruments (the same meter).</summary>
    /// <param name="instruments">The batch processor's standard instruments.</param>
    /// <returns>The cached extras.</returns>
    public static BatchInstruments For(ComponentInstruments instruments) =>
        instruments.GetExtra("batch", static meter => new BatchInstruments(meter));

    /// <summary>The value of the <see cref="TelemetryTagNames.FlushReason"/> tag.</summary>
    /// <param name="reason">Why the batch was flushed.</param>
    /// <returns>For example <c>size</c>.</returns>
    public static string TagValue(BatchFlushReason reason) => reason switch
    {
        BatchFlushReason.Size => "size",
        BatchFlushReason.Time => "time",
        BatchFlushReason.Forced => "forced",
        _ => "dispose",
    };
}
