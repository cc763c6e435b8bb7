using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// The worker pool's instruments, created once from the library's single <see cref="Meter"/>. Pools are told apart by the
/// <see cref="TelemetryTagNames.Name"/> tag. Observable instruments read every live pool through weak references, so an
/// undisposed pool can still be collected.
/// </summary>
internal static class WorkerPoolMetrics
{
    internal static readonly Counter<long> Items = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.workerpool.items", "{item}", "Work items that ran, by outcome (succeeded, failed, cancelled).");

    internal static readonly Counter<long> Drops = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.workerpool.drops", "{item}", "Work items dropped or rejected by the queue policy or a disposal deadline, by reason.");

    internal static readonly Histogram<double> Duration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.workerpool.duration", "s", "How long work items ran.");

    internal static readonly Histogram<double> WaitTime = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.workerpool.wait.time", "s", "How long work items waited in the queue before a worker started them.");

    private static readonly List<WeakReference<WorkerPool>> s_pools = [];

    static WorkerPoolMetrics()
    {
        Telemetry.Meter.CreateObservableGauge("parallelexec.workerpool.queue.length", () => Observe(static s => s.Queued), "{item}", "Items waiting in the queue.");
        Telemetry.Meter.CreateObservableGauge("parallelexec.workerpool.in_flight", () => Observe(static s => s.Running), "{item}", "Items running.");
        Telemetry.Meter.CreateObservableGauge("parallelexec.workerpool.workers", () => Observe(static s => s.WorkerCount), "{worker}", "Workers the pool is sized to.");
    }

    internal static void Register(WorkerPool pool)
    {
        lock (s_pools)
        {
            s_pools.Add(new WeakReference<WorkerPool>(pool));
        }
    }

    internal static void Unregister(WorkerPool pool)
    {
        lock (s_pools)
        {
            s_pools.RemoveAll(reference => !reference.TryGetTarget(out var target) || ReferenceEquals(target, pool));
        }
    }

    private static List<Measurement<int>> Observe(Func<WorkerPoolStatistics, int> select)
    {
        var measurements = new List<Measurement<int>>();
        lock (s_pools)
        {
            s_pools.RemoveAll(static reference => !reference.TryGetTarget(out _));
            foreach (var reference in s_pools)
            {
                if (reference.TryGetTarget(out var pool))
                {
                    measurements.Add(new Measurement<int>(select(pool.GetStatistics()), pool.NameTag));
                }
            }
        }

        return measurements;
    }
}
