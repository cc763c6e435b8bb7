using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// The totals over a stress test's rounds: each round's ledger adds its items, faults and unaccounted items and prints
/// its line; the test then prints the TOTAL line and checks that the fixed seeds covered every mode it names.
/// </summary>
public sealed class StressTotals(ITestOutputHelper output, string component)
{
    private readonly HashSet<object> _covered = [];

    /// <summary>Gets the items of every round.</summary>
    public int Items { get; private set; }

    /// <summary>Gets the faults injected in every round.</summary>
    public int Faults { get; private set; }

    /// <summary>Gets the items no ending was recorded for (must stay 0).</summary>
    public int Unaccounted { get; private set; }

    /// <summary>Adds a finished round's ledger and prints the round's line.</summary>
    public void Add(Ledger ledger, string roundLine)
    {
        Items += ledger.Expected;
        Faults += ledger.FaultsInjected;
        Unaccounted += ledger.Unaccounted;
        StressReport.Write(output, component, roundLine);
    }

    /// <summary>Records that a round ran with <paramref name="modes"/> (queue mode, failure policy, ...).</summary>
    public void Cover(params object[] modes) => _covered.UnionWith(modes);

    /// <summary>Prints the TOTAL line, with <paramref name="extra"/> (peaks, ...) after the counts.</summary>
    public void WriteTotal(string extra = "") =>
        StressReport.Write(output, component, $"TOTAL items={Items} faultsInjected={Faults} unaccounted={Unaccounted}{(extra.Length > 0 ? " " : "")}{extra}");

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
