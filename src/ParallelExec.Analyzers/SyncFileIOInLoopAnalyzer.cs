using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers;

/// <summary>
/// PEX004: a synchronous whole-file call (<c>File.ReadAllText</c> and friends, <c>File.Copy</c>) in a loop of an async
/// function, on a path that changes with each iteration.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SyncFileIOInLoopAnalyzer : DiagnosticAnalyzer
{
    // Appends are left out: appending to one file in a loop is ordered on purpose.
    private static readonly ImmutableHashSet<string> WholeFileMethods = ImmutableHashSet.Create(
        "ReadAllText", "ReadAllBytes", "ReadAllLines", "WriteAllText", "WriteAllBytes", "WriteAllLines", "Copy");

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.SyncFileIOInLoop);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var file = start.Compilation.GetTypeByMetadataName("System.IO.File");
            if (file is null)
            {
                return;
            }

            start.RegisterSyntaxNodeAction(node => AnalyzeCall(node, file), SyntaxKind.InvocationExpression);
        });
    }

    private static void AnalyzeCall(SyntaxNodeAnalysisContext context, INamedTypeSymbol file)
    {
        var call = (InvocationExpressionSyntax)context.Node;
        if (call.Expression is not MemberAccessExpressionSyntax { Name.Identifier.ValueText: var name } || !WholeFileMethods.Contains(name)
            || call.ArgumentList.Arguments.Count == 0
            || context.SemanticModel.GetSymbolInfo(call, context.CancellationToken).Symbol is not IMethodSymbol method
            || !SymbolEqualityComparer.Default.Equals(method.ContainingType, file))
        {
            return;
        }

        var loop = call.Ancestors().TakeWhile(ancestor => !SyntaxShape.IsFunction(ancestor))
            .FirstOrDefault(ancestor => ancestor is ForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax);
        if (loop is null || !SyntaxShape.IsInAsyncFunction(call))
        {
            return;
        }

        // The path must change with the iteration: reading or writing one file again and again is not many files.
        var declaredInLoop = FlowFacts.Of(loop, context.SemanticModel, context.CancellationToken).Declared;
        var path = FlowFacts.Of(call.ArgumentList.Arguments[0], context.SemanticModel, context.CancellationToken);
        if (!path.Reads.Overlaps(declaredInLoop))
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(Descriptors.SyncFileIOInLoop, call.GetLocation(), name));
    }
}
