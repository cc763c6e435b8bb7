using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ParallelExec.Analyzers.CodeFixes;

namespace ParallelExec.Analyzers.Tests.Infrastructure;

/// <summary>
/// A small verifier: compiles test code against the running runtime's assemblies (and, when asked, a copy of the
/// ParallelExec API surface the fixes call), runs every analyzer of the package, and applies a code fix through an
/// AdhocWorkspace the way an IDE does (operations, simplification, formatting).
/// </summary>
internal static class Harness
{
    private static readonly ImmutableArray<MetadataReference> References = LoadReferences();

    private static readonly ImmutableArray<DiagnosticAnalyzer> Analyzers = ImmutableArray.Create<DiagnosticAnalyzer>(
        new IndependentAwaitsAnalyzer(), new LoopAwaitAnalyzer(), new SyncFileIOInLoopAnalyzer());

    private static readonly ImmutableArray<CodeFixProvider> Fixes = ImmutableArray.Create<CodeFixProvider>(
        new IndependentAwaitsCodeFixProvider(), new ForEachAsyncCodeFixProvider(), new BulkStoreCallCodeFixProvider());

    /// <summary>The analyzers' diagnostics for <paramref name="source"/>, as "ID@line" (1-based), in source order.</summary>
    public static async Task<string[]> DiagnosticsAsync(string source, bool withParallelExec = true, bool executable = false)
    {
        var (document, _) = CreateDocument(source, withParallelExec, executable);
        var diagnostics = await AnalyzeAsync(document);
        return diagnostics.Select(Describe).ToArray();
    }

    /// <summary>The message of the single diagnostic <paramref name="source"/> gets.</summary>
    public static async Task<string> MessageAsync(string source, bool withParallelExec = true)
    {
        var (document, _) = CreateDocument(source, withParallelExec);
        var diagnostic = Assert.Single(await AnalyzeAsync(document));
        return diagnostic.GetMessage(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Applies the fix offered for the first diagnostic <paramref name="id"/> and returns the new source, after checking
    /// that it compiles without errors and that the diagnostic is gone from where it was; <see langword="null"/> when no
    /// fix is offered.
    /// </summary>
    public static async Task<string?> FixAsync(string source, string id, bool withParallelExec = true, bool executable = false, string? parallelExecApi = null)
    {
        var (document, workspace) = CreateDocument(source, withParallelExec, executable, parallelExecApi);
        using (workspace)
        {
            var diagnostic = (await AnalyzeAsync(document)).First(d => d.Id == id);
            var actions = new List<CodeAction>();
            foreach (var provider in Fixes.Where(fix => fix.FixableDiagnosticIds.Contains(id)))
            {
                var context = new CodeFixContext(document, diagnostic, (action, _) => actions.Add(action), CancellationToken.None);
                await provider.RegisterCodeFixesAsync(context);
            }

            if (actions.Count == 0)
            {
                return null;
            }

            var action = Assert.Single(actions);
            var operations = await action.GetOperationsAsync(CancellationToken.None);
            var apply = Assert.Single(operations.OfType<ApplyChangesOperation>());
            var fixedDocument = apply.ChangedSolution.GetDocument(document.Id)!;
            var text = (await fixedDocument.GetTextAsync()).ToString();

            var compilation = (await fixedDocument.Project.GetCompilationAsync())!;
            var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
            Assert.True(errors.Count == 0, "the fixed code does not compile:\n" + string.Join("\n", errors) + "\n" + text);
            return text;
        }
    }

    private static string Describe(Diagnostic diagnostic) =>
        diagnostic.Id + "@" + (diagnostic.Location.GetLineSpan().StartLinePosition.Line + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<ImmutableArray<Diagnostic>> AnalyzeAsync(Document document)
    {
        var compilation = (await document.Project.GetCompilationAsync())!;
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, "the test code does not compile:\n" + string.Join("\n", errors));
        var withAnalyzers = compilation.WithAnalyzers(Analyzers, new CompilationWithAnalyzersOptions(
            new AnalyzerOptions(ImmutableArray<AdditionalText>.Empty), onAnalyzerException: null, concurrentAnalysis: false, logAnalyzerExecutionTime: false, reportSuppressedDiagnostics: false));
        var exceptions = (await withAnalyzers.GetAllDiagnosticsAsync()).Where(d => d.Id == "AD0001").ToList();
        Assert.True(exceptions.Count == 0, "an analyzer threw:\n" + string.Join("\n", exceptions));
        var diagnostics = await withAnalyzers.GetAnalyzerDiagnosticsAsync();
        return diagnostics.Where(d => d.Location.SourceTree?.FilePath == "Test.cs").OrderBy(d => d.Location.SourceSpan.Start).ToImmutableArray();
    }

    private static (Document Document, AdhocWorkspace Workspace) CreateDocument(string source, bool withParallelExec, bool executable = false, string? parallelExecApi = null)
    {
        var workspace = new AdhocWorkspace();
        var projectId = ProjectId.CreateNewId();
        var solution = workspace.CurrentSolution
            .AddProject(ProjectInfo.Create(projectId, VersionStamp.Default, "Test", "Test", LanguageNames.CSharp,
                compilationOptions: new CSharpCompilationOptions(executable ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable),
                parseOptions: new CSharpParseOptions(LanguageVersion.CSharp12),
                metadataReferences: References));
        var documentId = DocumentId.CreateNewId(projectId);
        solution = solution.AddDocument(documentId, "Test.cs", SourceText.From(source), filePath: "Test.cs");
        if (withParallelExec)
        {
            solution = solution.AddDocument(DocumentId.CreateNewId(projectId), "ParallelExecApi.cs", SourceText.From(parallelExecApi ?? ParallelExecApi.Source), filePath: "ParallelExecApi.cs");
        }

        Assert.True(workspace.TryApplyChanges(solution));
        return (workspace.CurrentSolution.GetDocument(documentId)!, workspace);
    }

    private static ImmutableArray<MetadataReference> LoadReferences()
    {
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        return paths
            .Where(path => Path.GetFileName(path) is var name && (name.StartsWith("System.", StringComparison.Ordinal) || name is "netstandard.dll" or "mscorlib.dll"))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToImmutableArray();
    }
}
