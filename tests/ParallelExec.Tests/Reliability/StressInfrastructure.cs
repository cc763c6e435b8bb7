using System.Collections.Concurrent;
using CsCheck;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// The stress classes share one collection that runs without parallelism: the unobserved-exception handler is
/// process-wide, and the item counts are sized for the whole machine rather than a slice of it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Reliability stress";
}

/// <summary>The fault every stress handler injects; its marker lets the unobserved-exception check ignore other tests.</summary>
public sealed class InjectedFaultException(int itemId) : Exception($"{Marker} injected fault for item {itemId}")
{
    /// <summary>The text every injected fault carries.</summary>
    public const string Marker = "[reliability-stress]";

    /// <summary>The item the fault was injected for.</summary>
    public int ItemId { get; } = itemId;
}

/// <summary>
/// Sizes and seeds for the stress runs. The CI size is the size the reliability promises are made at: 10^6 items per
/// component (<see cref="Million"/>), 10^5 real file and SQLite operations (<see cref="Operations"/>), over
/// <see cref="Rounds"/> rounds with their own seeds. PARALLELEXEC_SOAK=1 multiplies both by <see cref="SoakFactor"/>.
/// </summary>
public static class StressProfile
{
    /// <summary>True when the long soak was requested.</summary>
    public static bool Soak { get; } = Environment.GetEnvironmentVariable("PARALLELEXEC_SOAK") == "1";

    /// <summary>How many times the CI size a soak runs.</summary>
    public const int SoakFactor = 10;

    /// <summary>Rounds (each with its own seed) per component.</summary>
    public static int Rounds => 8;

    /// <summary>Items through each in-memory component per test run: 10^6 in CI.</summary>
    public static int Million => Soak ? 1_000_000 * SoakFactor : 1_000_000;

    /// <summary>Real file or SQLite operations per test run: 10^5 in CI.</summary>
    public static int Operations => Soak ? 100_000 * SoakFactor : 100_000;

    /// <summary>Items per round of an in-memory component (<see cref="Million"/> over <see cref="Rounds"/>).</summary>
    public static int Items => Million / Rounds;

    /// <summary>The CsCheck seed string forced through PARALLELEXEC_SEED or CsCheck_Seed (replays one round), or null.</summary>
    public static string? ForcedSeed { get; } = ReadForcedSeed();

    /// <summary>
    /// Extra CsCheck iterations after a failing round, from PARALLELEXEC_SHRINK (default 0: no shrinking). CsCheck shrinks
    /// by running further random schedules and keeping a failing one only if it is smaller; each is a whole stress round,
    /// so shrinking is off in CI and opt-in when replaying a seed.
    /// </summary>
    public static int ShrinkIterations { get; } = int.TryParse(Environment.GetEnvironmentVariable("PARALLELEXEC_SHRINK"), out int n) && n > 0 ? n : 0;

    /// <summary>
    /// The CsCheck seed of round <paramref name="round"/> of <paramref name="component"/>, candidate
    /// <paramref name="candidate"/>: fixed in the CI profile (the same schedules every run), fresh in the soak (new
    /// schedules every soak, each printed).
    /// </summary>
    public static string Seed(string component, int round, int candidate)
    {
        // A stable per-component value (string.GetHashCode is randomized per process).
        ulong componentSeed = 1469598103934665603UL;
        foreach (char c in component)
        {
            componentSeed = (componentSeed ^ c) * 1099511628211UL;
        }

        return new PCG((uint)(round + 1), (componentSeed ^ SoakSalt) + (ulong)candidate).ToString();
    }

    private static readonly ulong SoakSalt = Soak ? (ulong)DateTime.UtcNow.Ticks : 0UL;

    private static string? ReadForcedSeed()
    {
        // PARALLELEXEC_SEED first; CsCheck's own CsCheck_Seed (read by CsCheck into Check.Seed) works too, since the
        // failure message CsCheck prints suggests it.
        string? forced = Environment.GetEnvironmentVariable("PARALLELEXEC_SEED");
        if (string.IsNullOrWhiteSpace(forced))
        {
            forced = Check.Seed;
        }

        if (string.IsNullOrWhiteSpace(forced))
        {
            return null;
        }

        // Fails fast on a seed from before the CsCheck schedules (those were integers).
        return PCG.Parse(forced.Trim()).ToString();
    }
}

/// <summary>Runs the rounds of a stress test as CsCheck samples: one generated schedule per round, one seed per round.</summary>
public static class StressRun
{
    /// <summary>
    /// Runs <see cref="StressProfile.Rounds"/> rounds (one when PARALLELEXEC_SEED replays a seed): CsCheck generates each
    /// round's schedule from the round's seed and <paramref name="round"/> runs it. A failing round throws CsCheck's
    /// exception, whose message starts with the seed ("Set seed: ...") followed by <paramref name="describe"/> of the
    /// schedule; PARALLELEXEC_SEED=that seed replays the same schedule. <paramref name="round"/> receives the seed to
    /// print in its own messages. <paramref name="fitsRound"/> (optional) makes the rounds cover the cases: round
    /// <c>r</c> takes the first seed candidate whose schedule fits it (e.g. "queue mode number r % 4"), so every queue
    /// mode is exercised in every run, while the mode itself still comes from the generated schedule.
    /// <paramref name="retained"/> (optional) samples the live heap after each round.
    /// </summary>
    public static async Task RoundsAsync<TSchedule>(string component, Gen<TSchedule> schedule, Func<TSchedule, string, Task> round, Func<TSchedule, string> describe, Func<TSchedule, int, bool>? fitsRound = null, RetainedAcrossRounds? retained = null)
    {
        var seeded = new SeededGen<TSchedule>(schedule);
        int rounds = StressProfile.ForcedSeed is null ? StressProfile.Rounds : 1;
        for (int r = 0; r < rounds; r++)
        {
            string seed = StressProfile.ForcedSeed ?? PickSeed(component, r, schedule, fitsRound);
            await seeded.SampleAsync(
                generated => round(generated.Value, generated.Seed),
                seed: seed,
                iter: 1 + StressProfile.ShrinkIterations,
                threads: 1,
                print: generated => $"{component} round seed {generated.Seed} (replay with PARALLELEXEC_SEED={generated.Seed}): {describe(generated.Value)}");
            retained?.RoundEnded();
        }
    }

    private static string PickSeed<TSchedule>(string component, int round, Gen<TSchedule> schedule, Func<TSchedule, int, bool>? fitsRound)
    {
        for (int candidate = 0; ; candidate++)
        {
            string seed = StressProfile.Seed(component, round, candidate);
            if (fitsRound is null || fitsRound(schedule.Generate(PCG.Parse(seed), null, out _), round) || candidate == 200)
            {
                return seed;
            }
        }
    }

    /// <summary>Wraps a generator so every generated value carries the CsCheck seed string that regenerates it.</summary>
    private sealed class SeededGen<T>(Gen<T> inner) : Gen<(string Seed, T Value)>
    {
        public override (string Seed, T Value) Generate(PCG pcg, Size? min, out Size size)
        {
            string seed = pcg.ToString(pcg.State);
            T value = inner.Generate(pcg, min, out size);
            return (seed, value);
        }
    }
}

/// <summary>How a stressed item is cancelled by its submitter.</summary>
public enum CancelKind : byte
{
    /// <summary>Never cancelled.</summary>
    None,
    /// <summary>Submitted with a token that is already cancelled.</summary>
    Before,
    /// <summary>Cancelled right after submission.</summary>
    AfterSubmit,
    /// <summary>Cancelled by a timer after <c>CancelDelayMs</c> milliseconds (a timeout).</summary>
    AfterDelay,
}

/// <summary>CsCheck generators the component schedules share.</summary>
public static class StressGen
{
    /// <summary>Every queue mode, equally likely.</summary>
    public static readonly Gen<QueueFullMode> QueueMode = Gen.Enum<QueueFullMode>();

    /// <summary>The queue modes in the order the rounds cover them (round <c>r</c> runs <c>Modes[r % 4]</c>).</summary>
    public static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    /// <summary>About 3% pre-cancelled, 3% cancelled within 0-2 ms, the rest never (the mix of the original suite).</summary>
    public static readonly Gen<(CancelKind Kind, byte DelayMs)> Cancellation =
        Gen.Select(Frequency((94, CancelKind.None), (3, CancelKind.Before), (3, CancelKind.AfterDelay)), Gen.Byte[0, 2]);

    /// <summary>A producer yields after about one submission in eight.</summary>
    public static readonly Gen<bool> ProducerYield = Gen.Int[0, 7].Select(i => i == 0);

    /// <summary>The fraction of items that must have ended before the round disposes its component (0.5-0.9).</summary>
    public static readonly Gen<double> DisposePoint = Gen.Int[50, 90].Select(p => p / 100.0);

    // CsCheck 5 (net9.0+) takes constant values in Gen.Frequency and Gen.OneOf; CsCheck 4.9, the last line for net8.0,
    // names those overloads FrequencyConst and OneOfConst (its Frequency and OneOf take generators only). One spelling
    // for both targets; net10.0 draws exactly what it drew before.

    /// <summary>One of the constant values, each drawn with its relative frequency.</summary>
    public static Gen<T> Frequency<T>(params (int Frequency, T Value)[] choices) =>
#if NET9_0_OR_GREATER
        Gen.Frequency(choices);
#else
        Gen.FrequencyConst(choices);
#endif

    /// <summary>One of the constant values, all equally likely.</summary>
    public static Gen<T> OneOf<T>(params T[] values) =>
#if NET9_0_OR_GREATER
        Gen.OneOf(values);
#else
        Gen.OneOfConst(values);
#endif

    /// <summary>Counts of each value, for a schedule description ("Fault=812 Hang=320").</summary>
    public static string Histogram<T>(IEnumerable<T> values)
        where T : notnull =>
        string.Join(" ", values.GroupBy(v => v).OrderBy(g => g.Key.ToString(), StringComparer.Ordinal).Select(g => $"{g.Key}={g.Count()}"));
}

/// <summary>
/// Records unobserved task exceptions raised by injected faults during a stress test. Other tests' leftovers are ignored
/// by the marker check; the collection runs alone so its own leftovers are attributed to it.
/// </summary>
public sealed class UnobservedExceptionMonitor : IDisposable
{
    private readonly ConcurrentQueue<Exception> _seen = new();

    /// <summary>Starts listening.</summary>
    public UnobservedExceptionMonitor() => TaskScheduler.UnobservedTaskException += OnUnobserved;

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        if (e.Exception.ToString().Contains(InjectedFaultException.Marker, StringComparison.Ordinal))
        {
            _seen.Enqueue(e.Exception);
        }
    }

    /// <summary>Forces the finalizers that raise the event, then asserts nothing of ours was unobserved.</summary>
    public int CollectAndAssertNone(string context)
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.True(_seen.IsEmpty, $"{context}: {_seen.Count} unobserved task exceptions, first: {_seen.FirstOrDefault()}");
        return _seen.Count;
    }

    /// <inheritdoc/>
    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;
}

/// <summary>Writes the one-line summaries RELIABILITY.md quotes.</summary>
public static class StressReport
{
    /// <summary>Writes "STRESS component: ..." to the test output.</summary>
    public static void Write(ITestOutputHelper output, string component, string line) =>
        output.WriteLine($"STRESS {component}: {line}");
}

/// <summary>Small pieces every stress round uses.</summary>
public static class StressDraw
{
    /// <summary>
    /// Disposes a component on a thread-pool thread and bounds the wait: a dispose that blocks synchronously inside the
    /// call (a deadlock, see RELIABILITY.md, bug 2) then fails the round with a timeout instead of hanging the test run.
    /// </summary>
    public static Task DisposeBoundedAsync(Func<ValueTask> dispose) => Task.Run(async () => await dispose()).WithTimeout();

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if it is larger, atomically.</summary>
    public static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
