namespace ParallelExec.AnalyzerReport;

/// <summary>One diagnostic: its id, where (path relative to the scanned root, 1-based line and column), its message, and how many awaits it covers.</summary>
internal sealed record Finding(string Id, string Project, string File, int Line, int Column, string Message, int Awaits);

/// <summary>
/// One project's figures: every await expression of its own code, those inside a reported pattern, the compiler errors
/// of the report's own compilation (0 when every type was resolved as the build resolves it), and its findings.
/// </summary>
internal sealed record ProjectResult(string Name, string Path, int Awaits, int SequentialAwaits, int CompileErrors, IReadOnlyList<Finding> Findings);

/// <summary>The whole report: the scanned root, each project, and the descriptions of the diagnostics.</summary>
internal sealed record Report(string Root, IReadOnlyList<ProjectResult> Projects, IReadOnlyDictionary<string, RuleInfo> Rules)
{
    /// <summary>Every await found.</summary>
    public int Awaits => Projects.Sum(project => project.Awaits);

    /// <summary>Awaits inside a reported sequential pattern.</summary>
    public int SequentialAwaits => Projects.Sum(project => project.SequentialAwaits);

    /// <summary>Every finding, most awaits covered first (a loop's await runs once per item, so loops rank first on ties).</summary>
    public IEnumerable<Finding> Ranked => Projects.SelectMany(project => project.Findings)
        .OrderByDescending(finding => finding.Awaits)
        .ThenBy(finding => finding.Id is "PEX001" ? 1 : 0)
        .ThenBy(finding => finding.File, StringComparer.Ordinal)
        .ThenBy(finding => finding.Line);

    /// <summary>A share as a percentage with one decimal, "-" when there is nothing to divide.</summary>
    public static string Share(int part, int whole) =>
        whole == 0 ? "-" : (100.0 * part / whole).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture) + "%";
}

/// <summary>A diagnostic's title and help page.</summary>
internal sealed record RuleInfo(string Id, string Title, string HelpLink);
