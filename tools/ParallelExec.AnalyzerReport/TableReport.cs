using System.Globalization;
using System.Text;

namespace ParallelExec.AnalyzerReport;

/// <summary>The report as plain text or as Markdown: the same figures, in tables.</summary>
internal static class TableReport
{
    /// <summary>Writes the report; <paramref name="markdown"/> chooses Markdown tables over aligned text.</summary>
    public static string Write(Report report, int top, bool markdown)
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');

        Line(markdown ? "# Sequential awaits: ParallelExec.Analyzers report" : "Sequential awaits: ParallelExec.Analyzers report");
        Line();
        Line(Invariant($"Scanned {report.Projects.Count} project(s) of {report.Scope}: {report.Awaits} awaits, {report.SequentialAwaits} of them ({Report.Share(report.SequentialAwaits, report.Awaits)}) in sequential patterns the analyzers report; {report.Ranked.Count()} finding(s) (a file compiled into several projects counts once here, and in each of its projects below)."));
        Line();

        var kinds = report.Rules.Values.OrderBy(rule => rule.Id, StringComparer.Ordinal).Select(rule =>
        {
            var findings = report.Ranked.Where(finding => finding.Id == rule.Id).ToList();
            return new[] { rule.Id, rule.Title, Invariant($"{findings.Count}"), Invariant($"{findings.Sum(f => f.Awaits)}"), Report.Share(findings.Sum(f => f.Awaits), report.Awaits) };
        });
        Table(text, markdown, "Per kind", ["Id", "Pattern", "Findings", "Awaits covered", "Share of all awaits"], kinds);

        var projects = report.Projects.Select(project => new[]
        {
            project.Name, Invariant($"{project.Awaits}"), Invariant($"{project.SequentialAwaits}"), Report.Share(project.SequentialAwaits, project.Awaits), Invariant($"{project.CompileErrors}"),
            string.Join(" ", project.Findings.GroupBy(f => f.Id).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Invariant($"{g.Key}:{g.Count()}"))),
        });
        Table(text, markdown, "Per project", ["Project", "Awaits", "In sequential patterns", "Share", "Compile errors", "Findings"], projects);

        var places = report.Ranked.Take(top).Select((finding, index) => new[]
        {
            Invariant($"{index + 1}"), finding.Id, Invariant($"{finding.File}:{finding.Line}"), Invariant($"{finding.Awaits}"), finding.Message,
        });
        Table(text, markdown, Invariant($"Top places to fix (of {report.Ranked.Count()})"), ["#", "Id", "Where", "Awaits", "Message"], places);

        Line("Awaits: every await expression in the projects' own source files. An await is in a sequential pattern when a");
        Line("PEX001 diagnostic names it, or it sits in the body of a loop that PEX002 or PEX003 reports. PEX004 (synchronous");
        Line("file I/O) is a finding without awaits. Projects are read from their .csproj without MSBuild (see the tool's README);");
        Line("compile errors count what that reading could not resolve (the analyzers stay silent where a type is unknown).");
        return text.ToString();
    }

    private static void Table(StringBuilder text, bool markdown, string title, string[] header, IEnumerable<string[]> rows)
    {
        var all = rows.ToList();
        text.Append(markdown ? "## " + title : title + ":").Append('\n').Append('\n');
        if (all.Count == 0)
        {
            text.Append(markdown ? "None.\n\n" : "  none\n\n");
            return;
        }

        if (markdown)
        {
            text.Append("| ").AppendJoin(" | ", header).Append(" |\n");
            text.Append('|').AppendJoin('|', header.Select(_ => " --- ")).Append("|\n");
            foreach (var row in all)
            {
                text.Append("| ").AppendJoin(" | ", row.Select(cell => cell.Replace("|", "\\|", StringComparison.Ordinal))).Append(" |\n");
            }
        }
        else
        {
            // The last column (a message or a list) is not padded.
            var widths = Enumerable.Range(0, header.Length).Select(i => all.Append(header).Max(row => row[i].Length)).ToArray();
            foreach (var row in all.Prepend(header))
            {
                text.Append("  ").AppendJoin("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).Append('\n');
            }
        }

        text.Append('\n');
    }

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
