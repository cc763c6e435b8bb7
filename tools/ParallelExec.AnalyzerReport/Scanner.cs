using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ParallelExec.AnalyzerReport;

/// <summary>
/// Runs every analyzer of ParallelExec.Analyzers over a project's compilation and counts its awaits: all await
/// expressions of its own code (not generated files), and those a diagnostic covers. PEX001 covers the awaits it names
/// (its location and additional locations); PEX002 and PEX003 cover every await in the body of the loop they report;
/// PEX004 (synchronous file I/O) covers none: it is counted as a finding, not as an await.
/// </summary>
internal static class Scanner
{
    private static readonly ImmutableArray<DiagnosticAnalyzer> Analyzers = typeof(ParallelExec.Analyzers.IndependentAwaitsAnalyzer).Assembly.GetTypes()
        .Where(type => !type.IsAbstract && typeof(DiagnosticAnalyzer).IsAssignableFrom(type))
        .OrderBy(type => type.FullName, StringComparer.Ordinal)
        .Select(type => (DiagnosticAnalyzer)Activator.CreateInstance(type)!)
        .ToImmutableArray();

    /// <summary>The diagnostics the analyzers can raise, by id.</summary>
    public static IReadOnlyDictionary<string, RuleInfo> Rules { get; } = Analyzers
        .SelectMany(analyzer => analyzer.SupportedDiagnostics)
        .GroupBy(descriptor => descriptor.Id)
        .ToDictionary(group => group.Key, group => new RuleInfo(group.Key, group.First().Title.ToString(System.Globalization.CultureInfo.InvariantCulture), group.First().HelpLinkUri), StringComparer.Ordinal);

    /// <summary>Analyses one project; <paramref name="verbose"/> prints its first compile errors to standard error.</summary>
    public static async Task<ProjectResult> ScanAsync(ProjectFile project, Compilation compilation, string root, bool verbose, CancellationToken cancellationToken)
    {
        // Every diagnostic reported as a warning, whatever the default severity or the project's editorconfig.
        var options = compilation.Options.WithSpecificDiagnosticOptions(Rules.Keys.ToDictionary(id => id, _ => ReportDiagnostic.Warn));
        var withAnalyzers = compilation.WithOptions(options).WithAnalyzers(Analyzers, new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), onAnalyzerException: null, concurrentAnalysis: true, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: false));
        // Compiler and analyzer diagnostics in one pass: the compiler's errors tell how well the project was loaded.
        var all = await withAnalyzers.GetAllDiagnosticsAsync(cancellationToken).ConfigureAwait(false);
        var errors = all.Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error && !Rules.ContainsKey(diagnostic.Id)).ToList();
        var compileErrors = errors.Count;
        if (verbose)
        {
            foreach (var error in errors.Take(20))
            {
                Console.Error.WriteLine($"{project.Name}: {error}");
            }
        }
        var diagnostics = all
            .Where(diagnostic => Rules.ContainsKey(diagnostic.Id) && diagnostic.Location.IsInSource)
            .OrderBy(diagnostic => diagnostic.Location.SourceTree!.FilePath, StringComparer.Ordinal)
            .ThenBy(diagnostic => diagnostic.Location.SourceSpan.Start)
            .ToList();

        // An await is known by file and position, so a file compiled into two projects counts once in the totals.
        var awaits = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tree in compilation.SyntaxTrees.Where(tree => !IsGenerated(tree)))
        {
            var rootNode = await tree.GetRootAsync(cancellationToken).ConfigureAwait(false);
            awaits.UnionWith(rootNode.DescendantNodes().OfType<AwaitExpressionSyntax>().Select(Key));
        }

        var covered = new HashSet<string>(StringComparer.Ordinal);
        var findings = new List<Finding>();
        foreach (var diagnostic in diagnostics)
        {
            var coveredHere = CoveredAwaits(diagnostic, cancellationToken).ToList();
            foreach (var node in coveredHere)
            {
                covered.Add(Key(node));
            }

            var span = diagnostic.Location.GetLineSpan();
            findings.Add(new Finding(
                diagnostic.Id,
                project.Name,
                Path.GetRelativePath(root, span.Path).Replace('\\', '/'),
                span.StartLinePosition.Line + 1,
                span.StartLinePosition.Character + 1,
                diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture),
                coveredHere.Count));
        }

        return new ProjectResult(project.Name, Path.GetRelativePath(root, project.Path).Replace('\\', '/'), awaits, covered, compileErrors, findings);
    }

    private static IEnumerable<AwaitExpressionSyntax> CoveredAwaits(Diagnostic diagnostic, CancellationToken cancellationToken)
    {
        var tree = diagnostic.Location.SourceTree!;
        var root = tree.GetRoot(cancellationToken);
        var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
        switch (diagnostic.Id)
        {
            case "PEX001":
                return diagnostic.AdditionalLocations.Prepend(diagnostic.Location)
                    .Select(location => root.FindNode(location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<AwaitExpressionSyntax>())
                    .OfType<AwaitExpressionSyntax>();
            case "PEX002":
            case "PEX003":
                var loop = node.AncestorsAndSelf().FirstOrDefault(candidate => candidate is CommonForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax);
                return loop is null ? [] : AwaitsOutsideNestedFunctions(loop);
            default:
                return [];
        }
    }

    // An await inside a lambda or local function of the loop body runs when that function is called, not per iteration.
    private static IEnumerable<AwaitExpressionSyntax> AwaitsOutsideNestedFunctions(SyntaxNode loop) =>
        loop.DescendantNodes(descend => descend == loop || descend is not (AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax))
            .OfType<AwaitExpressionSyntax>();

    private static string Key(SyntaxNode node) => node.SyntaxTree.FilePath + "@" + node.SpanStart.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static bool IsGenerated(SyntaxTree tree) =>
        tree.FilePath.EndsWith(".g.cs", StringComparison.OrdinalIgnoreCase) || tree.FilePath.EndsWith(".Designer.cs", StringComparison.OrdinalIgnoreCase);
}
