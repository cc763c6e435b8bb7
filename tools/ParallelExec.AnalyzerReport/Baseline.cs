using System.Text.RegularExpressions;

namespace ParallelExec.AnalyzerReport;

/// <summary>
/// Compares a report with an earlier Markdown report of the same code: a finding is known when the earlier report's
/// table has as many findings of the same id in the same file. Lines are not compared, so an edit above a known
/// finding does not make it new.
/// </summary>
internal static partial class Baseline
{
    /// <summary>The findings of <paramref name="report"/> beyond those the earlier report lists.</summary>
    public static List<Finding> NewFindings(Report report, string earlierMarkdown)
    {
        var known = FindingRow().Matches(earlierMarkdown)
            .GroupBy(match => (match.Groups["id"].Value, match.Groups["file"].Value))
            .ToDictionary(group => group.Key, group => group.Count());
        var unexplained = new List<Finding>();
        foreach (var group in report.Ranked.GroupBy(finding => (finding.Id, finding.File)))
        {
            known.TryGetValue(group.Key, out var allowed);
            unexplained.AddRange(group.OrderBy(finding => finding.Line).Skip(allowed));
        }

        return unexplained;
    }

    // A row of the Markdown "Top places to fix" table: | 3 | PEX002 | samples/x/Program.cs:18 | ...
    [GeneratedRegex(@"^\|\s*\d+\s*\|\s*(?<id>PEX\d{3})\s*\|\s*(?<file>[^|\s]+):\d+\s*\|", RegexOptions.Multiline)]
    private static partial Regex FindingRow();
}
