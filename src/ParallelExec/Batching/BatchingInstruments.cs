using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

/// <summary>The batch processor's instruments, created once from the library's meter and shared by every instance.</summary>
internal static class BatchingInstruments
{
    public static readonly Counter<long> Batches = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.batch.batches", "{batch}", "Batches flushed, tagged with the flush reason.");

    public static readonly Histogram<int> BatchSize = Telemetry.Meter.CreateHistogram<int>(
        "parallelexec.batch.size", "{item}", "Distinct items per flushed batch.");

    public static readonly Histogram<double> Duration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.batch.duration", "s", "Time to process one batch (all its handler calls).");

    public static readonly Histogram<double> WaitTime = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.batch.wait_time", "s", "How long the oldest item of a batch waited before its handler call started.");

    public static readonly Counter<long> Drops = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.batch.drops", "{item}", "Submissions dropped or rejected, tagged with the drop reason.");

    public static readonly Counter<long> Failures = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.batch.failures", "{item}", "Submissions that completed with a handler exception.");

    public static string TagValue(BatchFlushReason reason) => reason switch
    {
        BatchFlushReason.Size => "size",
        BatchFlushReason.Time => "time",
        BatchFlushReason.Forced => "forced",
        _ => "dispose",
    };
}
