using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers;

/// <summary>
/// PEX001: consecutive <c>var x = await Call(...);</c> statements whose calls do not use each other's results, made on
/// different objects, outside <c>try</c> blocks, and touching no resource of an enclosing <c>using</c>.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class IndependentAwaitsAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(Descriptors.IndependentAwaits);

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

            start.RegisterSyntaxNodeAction(node => AnalyzeBlock(node, types), SyntaxKind.Block);
        });
    }

    private static void AnalyzeBlock(SyntaxNodeAnalysisContext context, KnownTypes types)
    {
        var block = (BlockSyntax)context.Node;
        if (block.Statements.Count < 2)
        {
            return;
        }

        foreach (var run in IndependentAwaitRuns.Find(block, context.SemanticModel, types, context.CancellationToken))
        {
            context.ReportDiagnostic(Diagnostic.Create(
                Descriptors.IndependentAwaits,
                run[0].Await.GetLocation(),
                run.Skip(1).Select(candidate => candidate.Await.GetLocation()),
                run.Count));
        }
    }
}
