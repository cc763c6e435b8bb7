using System.Diagnostics;
using System.Reflection;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>What <see cref="MemoryProbe"/> measured for one component.</summary>
/// <param name="Items">Items in each measured phase.</param>
/// <param name="PhasesRun">Measured phases run (more than <see cref="MemoryProbe.Phases"/> when early growth had to be confirmed or ruled out).</param>
/// <param name="BytesPerItem">Bytes allocated per item by the component (the harness's own cost subtracted).</param>
/// <param name="HarnessBytesPerItem">Bytes allocated per item by the harness alone (a stand-in that completes at once).</param>
/// <param name="RetainedGrowthBytes">Growth of the live heap (after a full collection) from the first measured phases to the last, on the same instance (see <see cref="MemoryProbe.MeasureAsync{T}"/>).</param>
public readonly record struct MemoryFigures(int Items, int PhasesRun, double BytesPerItem, double HarnessBytesPerItem, long RetainedGrowthBytes)
{
    /// <summary>The line the tests print and RELIABILITY.md quotes.</summary>
    public override string ToString() =>
        $"items/phase={Items} phases={PhasesRun} allocatedPerItem={BytesPerItem:F1}B harnessPerItem={HarnessBytesPerItem:F1}B retainedGrowth={RetainedGrowthBytes}B";
}

/// <summary>
/// Measures the memory a component costs per operation under concurrent load: allocated bytes per item (process-wide
/// <see cref="GC.GetTotalAllocatedBytes(bool)"/> around a steady phase, divided by the items; the stress collection runs
/// alone, so other tests do not allocate meanwhile) and the live heap retained as more items go through one instance.
/// </summary>
public static class MemoryProbe
{
    /// <summary>Concurrent producers in a measured phase.</summary>
    public const int Producers = 8;

    /// <summary>
    /// Bound on <see cref="MemoryFigures.RetainedGrowthBytes"/>: 1 MiB over two phases of 32 000 items, so a leak of 16
    /// bytes or more per item fails (the smallest object is 24 bytes). Measured noise on the shared 2-core machine: up
    /// to about 0.9 MiB in either direction for the bus and the batch processor (thread-pool queues, timers), near 0 for
    /// the others.
    /// </summary>
    public const long RetainedGrowthBound = 1024 * 1024;

    /// <summary>Submissions each producer has in flight at most.</summary>
    public const int Window = 64;

    /// <summary>Items per measured phase.</summary>
    public const int Items = 32_000;

    /// <summary>Measured phases after the warm-up.</summary>
    public const int Phases = 6;

    /// <summary>Gets whether the ParallelExec assembly under test was compiled with optimizations (a Release build).</summary>
    public static bool LibraryIsOptimized { get; } =
        typeof(ParallelExec.Workers.WorkerPool).Assembly.GetCustomAttribute<DebuggableAttribute>() is not { IsJITOptimizerDisabled: true };

    /// <summary>
    /// Runs a warm-up phase and <see cref="Phases"/> measured phases of <see cref="Items"/> items through
    /// <paramref name="submit"/> (8 producers, each submitting all its items before awaiting them, into arrays allocated
    /// beforehand so the harness allocates next to nothing per item), then the same phases through a stand-in that
    /// completes at once, which gives the harness's own cost. <paramref name="settle"/> (optional) waits until the
    /// component has finished work that the submitting call does not wait for (a bus handler). The allocation figure
    /// comes from the first <see cref="Phases"/> measured phases; the retained growth is <see cref="PersistentGrowth"/>
    /// of the live heap after the last <see cref="Phases"/> phases (up to two more rounds of phases run when it exceeds
    /// <see cref="RetainedGrowthBound"/>, to tell growth that levels off from a leak).
    /// </summary>
    public static async Task<MemoryFigures> MeasureAsync<T>(Func<int, ValueTask<T>> submit, Func<int, Task>? settle = null)
    {
        var pending = new ValueTask<T>[Items];
        await RunPhaseAsync(submit, pending, settle, phase: 0);

        var allocatedPerPhase = new List<long>(Phases);
        var heapAfter = new List<long>();
        int phase = 0;
        long retainedGrowth = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            for (int i = 0; i < Phases; i++)
            {
                phase++;
                long before = GC.GetTotalAllocatedBytes(precise: true);
                await RunPhaseAsync(submit, pending, settle, phase);
                if (attempt == 0)
                {
                    allocatedPerPhase.Add(GC.GetTotalAllocatedBytes(precise: true) - before);
                }

                heapAfter.Add(GC.GetTotalMemory(forceFullCollection: true));
            }

            // Growth that levels off (the thread pool's queues and the runtime's caches ratchet up to their working
            // size) is not a leak: when the first phases show growth, run more and judge the latest ones; a leak keeps
            // growing in every window.
            retainedGrowth = PersistentGrowth(heapAfter.TakeLast(Phases).ToArray());
            if (retainedGrowth <= RetainedGrowthBound)
            {
                break;
            }
        }

        var harnessPending = new ValueTask<int>[Items];
        Func<int, ValueTask<int>> standIn = id => new ValueTask<int>(id);
        await RunPhaseAsync(standIn, harnessPending, null, phase: 0);
        long harnessBefore = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 1; i <= Phases; i++)
        {
            await RunPhaseAsync(standIn, harnessPending, null, i);
        }

        long harness = GC.GetTotalAllocatedBytes(precise: true) - harnessBefore;
        double harnessPerItem = harness / ((double)Phases * Items);
        // The median phase, not the mean: the count is process-wide, so a burst of background work (a runtime timer, a
        // server from an earlier test shutting down) lands in one phase, while a real per-item cost is in every phase.
        allocatedPerPhase.Sort();
        double medianPhase = allocatedPerPhase[Phases / 2];
        return new MemoryFigures(Items, phase, (medianPhase / Items) - harnessPerItem, harnessPerItem, retainedGrowth);
    }

    /// <summary>
    /// The growth of a series of live-heap samples that persists: the samples are split into three windows, each
    /// window's minimum taken (filters transient noise such as thread-pool threads, per-thread pool caches or a
    /// continuation still holding a buffer), and the smaller of the two window-to-window increases returned. A leak
    /// grows both increases; a one-off step (a cache filled once, a lazily created singleton) grows only one.
    /// </summary>
    public static long PersistentGrowth(IReadOnlyList<long> samples)
    {
        if (samples.Count < 3)
        {
            return 0;
        }

        int window = samples.Count / 3;
        long first = samples.Take(window).Min();
        long middle = samples.Skip(window).Take(window).Min();
        long last = samples.Skip(2 * window).Min();
        return Math.Min(middle - first, last - middle);
    }

    private static async Task RunPhaseAsync<T>(Func<int, ValueTask<T>> submit, ValueTask<T>[] pending, Func<int, Task>? settle, int phase)
    {
        var producers = new Task[Producers];
        for (int p = 0; p < Producers; p++)
        {
            int producer = p;
            producers[p] = Task.Run(async () =>
            {
                // Windows of submissions: deep enough to keep the component's queue full (8 x 64 > every queue
                // here), shallow enough that the thread pool's per-thread work queues do not keep growing with the
                // number of continuations queued at once (a heap dump showed those arrays as the only growth when each
                // producer submitted all its items first).
                for (int start = producer; start < pending.Length; start += Producers * Window)
                {
                    int end = Math.Min(pending.Length, start + (Producers * Window));
                    for (int id = start; id < end; id += Producers)
                    {
                        pending[id] = submit(id);
                    }

                    for (int id = start; id < end; id += Producers)
                    {
                        await pending[id];
                    }
                }
            });
        }

        await Task.WhenAll(producers);
        if (settle is not null)
        {
            await settle(phase);
        }
    }

    /// <summary>
    /// Asserts the bounds and prints the figures. <paramref name="maxBytesPerItem"/> and <paramref name="maxRetainedGrowth"/>
    /// are the component's documented bounds (RELIABILITY.md gives the measurement they come from).
    /// </summary>
    public static void AssertBounded(ITestOutputHelper output, string component, MemoryFigures figures, double maxBytesPerItem, long maxRetainedGrowth)
    {
        StressReport.Write(output, component, $"MEMORY {figures} bounds: allocatedPerItem<={maxBytesPerItem}B retainedGrowth<={maxRetainedGrowth}B");
        if (LibraryIsOptimized)
        {
            Assert.True(figures.BytesPerItem <= maxBytesPerItem, $"{component}: {figures.BytesPerItem:F1} bytes allocated per item > bound {maxBytesPerItem} ({figures})");
        }
        else
        {
            // A Debug build compiles every async method's state machine as a class, allocated per call: the documented
            // bounds are those of the Release build users get from NuGet. A leak is a leak in either build.
            StressReport.Write(output, component, "MEMORY allocation bound not applied: the library under test is a Debug build (run dotnet test -c Release)");
        }

        Assert.True(figures.RetainedGrowthBytes <= maxRetainedGrowth, $"{component}: live heap grew persistently by {figures.RetainedGrowthBytes} bytes per two phases of {figures.Items} items on one instance > bound {maxRetainedGrowth} (a per-item leak)");
    }
}

/// <summary>
/// Memory across the rounds of a stress test. Each round creates a component instance, stresses it and disposes it, so
/// (1) every round's instance must be collectable once its round is over (tracked by weak reference: catches static
/// registrations, meter callbacks, timers or pooled objects that keep an instance alive), and (2) the live heap must not
/// grow persistently over the rounds by more than a bound (see <see cref="Growth"/>).
/// </summary>
public sealed class RetainedAcrossRounds
{
    private static readonly System.Collections.Concurrent.ConcurrentQueue<(int Round, WeakReference Instance)> s_instances = new();
    private static int s_round;
    private readonly List<long> _heapAfter = [];
    private int _rounds;

    /// <summary>Starts tracking a stress test's rounds (the stress collection runs one test at a time).</summary>
    public RetainedAcrossRounds()
    {
        s_instances.Clear();
        s_round = 0;
    }

    /// <summary>Called by a round with the instance it built; the instance must be collectable after the round.</summary>
    public static void Track(object instance) => s_instances.Enqueue((Volatile.Read(ref s_round), new WeakReference(instance)));

    /// <summary>Call after each round, once the round's own objects (its ledger, its schedule) are out of scope.</summary>
    public void RoundEnded()
    {
        _rounds++;
        Interlocked.Increment(ref s_round);
        _heapAfter.Add(GC.GetTotalMemory(forceFullCollection: true));
    }

    /// <summary>
    /// Persistent growth in bytes of the live heap over rounds 2 to the last (<see cref="MemoryProbe.PersistentGrowth"/>;
    /// round 1 is left out as warm-up). 0 with fewer than 4 rounds.
    /// </summary>
    public long Growth => _heapAfter.Count < 4 ? 0 : MemoryProbe.PersistentGrowth(_heapAfter.Skip(1).ToArray());

    /// <summary>Asserts that no round's instance is still alive and the growth bound, and prints the figures.</summary>
    public async Task AssertBoundedAsync(ITestOutputHelper output, string component, long maxGrowth)
    {
        // The last round's instance may still be referenced for a moment by a thread-pool thread finishing its
        // continuation; give it a bounded grace before calling it a leak.
        int[] alive = [];
        for (int attempt = 0; attempt < 20; attempt++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            alive = s_instances.Where(i => i.Instance.IsAlive).Select(i => i.Round).ToArray();
            if (alive.Length == 0)
            {
                break;
            }

            await Task.Delay(50);
        }

        StressReport.Write(output, component, $"RETAINED across rounds: live heap after each round [{string.Join(" ", _heapAfter.Select(h => h / 1024))}] KB, persistent growth {Growth}B (bound {maxGrowth}B); instances tracked {s_instances.Count}, still alive {alive.Length}");
        Assert.True(alive.Length == 0, $"{component}: {alive.Length} component instances still alive after their rounds ended (rounds {string.Join(",", alive.Take(10))}): something keeps a disposed instance reachable");
        Assert.True(Growth <= maxGrowth, $"{component}: live heap grew persistently by {Growth} bytes over the rounds > bound {maxGrowth} (a per-instance leak)");
    }
}
