using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Text;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers;

/// <summary>
/// PEX002: a <c>foreach</c> loop that awaits per-item work with no state carried between iterations. PEX003: a loop that
/// awaits a single-item call of a type that has a bulk sibling (<c>GetAsync</c> and <c>GetManyAsync</c>); where PEX003
/// applies, PEX002 is not reported for the same loop.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class LoopAwaitAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
        ImmutableArray.Create(Descriptors.AwaitInLoop, Descriptors.OneByOneStoreCalls);

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(start =>
        {
            var types = KnownTypes.From(start.Compilation);
            if (types.Task is null)
            {
                return;
            }

            start.RegisterSyntaxNodeAction(
                node => AnalyzeLoop(node, types),
                SyntaxKind.ForEachStatement, SyntaxKind.ForStatement, SyntaxKind.WhileStatement, SyntaxKind.DoStatement);
        });
    }

    private static void AnalyzeLoop(SyntaxNodeAnalysisContext context, KnownTypes types)
    {
        var loop = (StatementSyntax)context.Node;
        var storeCalls = LoopAnalysis.FindStoreCalls(loop, context.SemanticModel, types, context.CancellationToken);
        if (storeCalls.Count > 0)
        {
            foreach (var group in storeCalls.GroupBy(call => call.Method.Name))
            {
                var first = group.First();
                context.ReportDiagnostic(Diagnostic.Create(
                    Descriptors.OneByOneStoreCalls,
                    first.Call.GetLocation(),
                    first.Method.Name,
                    first.ReceiverType.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat),
                    first.BulkName));
            }

            return;
        }

        if (loop is ForEachStatementSyntax forEach
            && LoopAnalysis.AnalyzeForEach(forEach, context.SemanticModel, types, context.CancellationToken) is not null)
        {
            var header = TextSpan.FromBounds(forEach.ForEachKeyword.SpanStart, forEach.CloseParenToken.Span.End);
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.AwaitInLoop, Location.Create(forEach.SyntaxTree, header)));
        }
    }
}
