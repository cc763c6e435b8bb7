using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// The totals over a stress test's rounds: each round's ledger adds its items, outcomes, faults and unaccounted items
/// and prints its line; the test then prints the TOTAL line (and appends it to the file named by
/// PARALLELEXEC_STRESS_TOTALS, which tools/reliability/figures.py turns into RELIABILITY.md's table) and checks that
/// the fixed seeds covered every mode it names.
/// </summary>
public sealed class StressTotals(ITestOutputHelper output, string component)
{
    /// <summary>The environment variable naming the file TOTAL lines are appended to (unset: not written).</summary>
    public const string TotalsFileVariable = "PARALLELEXEC_STRESS_TOTALS";

    private static readonly object FileLock = new();
    private readonly HashSet<object> _covered = [];
    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private readonly long[] _outcomes = new long[Enum.GetValues<Outcome>().Length];

    /// <summary>Gets the items of every round.</summary>
    public long Items { get; private set; }

    /// <summary>Gets the faults injected in every round.</summary>
    public long Faults { get; private set; }

    /// <summary>Gets the items no ending was recorded for (must stay 0).</summary>
    public long Unaccounted { get; private set; }

    /// <summary>Gets the cancelled items cross-checked against their token and the component's report.</summary>
    public long CancelledCrossChecked { get; private set; }

    /// <summary>Adds a finished (and checked) round's ledger and prints the round's line.</summary>
    public void Add(Ledger ledger, string roundLine)
    {
        Items += ledger.Expected;
        Faults += ledger.FaultsInjected;
        Unaccounted += ledger.Unaccounted;
        CancelledCrossChecked += ledger.CancelledCrossChecked;
        foreach (Outcome outcome in Enum.GetValues<Outcome>())
        {
            _outcomes[(int)outcome] += ledger.Count(outcome);
        }

        StressReport.Write(output, component, roundLine);
    }

    /// <summary>Records that a round ran with <paramref name="modes"/> (queue mode, failure policy, ...).</summary>
    public void Cover(params object[] modes) => _covered.UnionWith(modes);

    /// <summary>
    /// Prints the TOTAL line, with <paramref name="extra"/> (peaks, ...) after the counts, and asserts that the run
    /// reached <paramref name="minimumItems"/> (the CI size of the component: 10^6 items, 10^5 file or SQLite operations)
    /// unless one seed is replayed; with <paramref name="countRefused"/> false, items refused at the call do not count.
    /// </summary>
    public void WriteTotal(long minimumItems, string extra = "", bool countRefused = true)
    {
        string line =
            $"TOTAL items={Items} succeeded={Of(Outcome.Succeeded)} failed={Of(Outcome.Failed)} cancelled={Of(Outcome.Cancelled)} " +
            $"dropped={Of(Outcome.Dropped)} refused={Of(Outcome.Refused)} faultsInjected={Faults} cancelledCrossChecked={CancelledCrossChecked} " +
            $"unaccounted={Unaccounted}{(extra.Length > 0 ? " " : "")}{extra} " +
            $"seconds={_elapsed.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} framework={Framework}";
        StressReport.Write(output, component, line);
        string? file = Environment.GetEnvironmentVariable(TotalsFileVariable);
        if (!string.IsNullOrWhiteSpace(file))
        {
            lock (FileLock)
            {
                File.AppendAllText(file, $"STRESS {component}: {line}{Environment.NewLine}");
            }
        }

        if (StressProfile.ForcedSeed is null)
        {
            long counted = countRefused ? Items : Items - Of(Outcome.Refused);
            Assert.True(counted >= minimumItems, $"{component}: {counted} items went through the ledger{(countRefused ? "" : " (refused ones not counted)")}, the CI size is {minimumItems}");
        }
    }

    private long Of(Outcome outcome) => _outcomes[(int)outcome];

    /// <summary>The runtime the suite runs on, as "net10.0" / "net8.0".</summary>
    private static string Framework { get; } = "net" + Environment.Version.ToString(2);

    /// <summary>
    /// Asserts that the fixed CI seeds covered <paramref name="expected"/> distinct modes (skipped when one seed is
    /// replayed with PARALLELEXEC_SEED).
    /// </summary>
    public void AssertCoveredEvery(int expected, string what)
    {
        if (StressProfile.ForcedSeed is null)
        {
            Assert.True(_covered.Count == expected, $"the fixed seeds must cover every {what}; covered {string.Join(",", _covered)}");
        }
    }
}
