namespace ParallelExec.AnalyzerReport;

/// <summary>One diagnostic: its id, where (path relative to the scanned root, 1-based line and column), its message, and how many awaits it covers.</summary>
internal sealed record Finding(string Id, string Project, string File, int Line, int Column, string Message, int Awaits);

/// <summary>
/// One project's figures: every await expression of its own code, those inside a reported pattern, the compiler errors
/// of the report's own compilation (0 when every type was resolved as the build resolves it), and its findings.
/// </summary>
internal sealed record ProjectResult(string Name, string Path, IReadOnlySet<string> AwaitKeys, IReadOnlySet<string> SequentialKeys, int CompileErrors, IReadOnlyList<Finding> Findings)
{
    /// <summary>Await expressions in the project's own files.</summary>
    public int Awaits => AwaitKeys.Count;

    /// <summary>Those in a reported pattern.</summary>
    public int SequentialAwaits => SequentialKeys.Count;
}

/// <summary>
/// The whole report: the folder paths are relative to, what was asked for (as given on the command line), each project,
/// and the descriptions of the diagnostics.
/// </summary>
internal sealed record Report(string Root, string Scope, IReadOnlyList<ProjectResult> Projects, IReadOnlyDictionary<string, RuleInfo> Rules)
{
    /// <summary>Every await found, once (a file compiled into two projects counts once).</summary>
    public int Awaits => Projects.SelectMany(project => project.AwaitKeys).Distinct(StringComparer.Ordinal).Count();

    /// <summary>Awaits inside a reported sequential pattern, once.</summary>
    public int SequentialAwaits => Projects.SelectMany(project => project.SequentialKeys).Distinct(StringComparer.Ordinal).Count();

    /// <summary>
    /// Every finding once (a file compiled into two projects is reported by both: the first is kept), most awaits covered
    /// first (a loop's await runs once per item, so loops rank first on ties).
    /// </summary>
    public IEnumerable<Finding> Ranked => Projects.SelectMany(project => project.Findings)
        .DistinctBy(finding => (finding.Id, finding.File, finding.Line, finding.Column))
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
