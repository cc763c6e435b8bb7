using System.Collections.Generic;
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers.CodeFixes;

/// <summary>
/// Fixes PEX001: <c>var a = await X(); var b = await Y();</c> becomes <c>var aTask = X(); var bTask = Y(); var a = await
/// aTask; var b = await bTask;</c>. Needs nothing from ParallelExec.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(IndependentAwaitsCodeFixProvider)), Shared]
public sealed class IndependentAwaitsCodeFixProvider : CodeFixProvider
{
    private const string Title = "Start the independent operations together, then await each";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.IndependentAwaits);

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        if (await CodeFixHelpers.LoadAsync(context).ConfigureAwait(false) is not { } loaded)
        {
            return;
        }

        var (root, model, types) = loaded;

        foreach (var diagnostic in context.Diagnostics)
        {
            var awaitExpression = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<AwaitExpressionSyntax>();
            if (awaitExpression?.FirstAncestorOrSelf<LocalDeclarationStatementSyntax>()?.Parent is not BlockSyntax block)
            {
                continue;
            }

                var run = IndependentAwaitRuns.Find(block, model, types, context.CancellationToken)
                .FirstOrDefault(candidates => candidates[0].Await.Span == awaitExpression.Span);
            if (run is null)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(Title, cancellationToken => FixAsync(context.Document, root, model, block, run, cancellationToken), nameof(IndependentAwaitsCodeFixProvider)),
                diagnostic);
        }
    }

    private static Task<Document> FixAsync(Document document, SyntaxNode root, SemanticModel model, BlockSyntax block, List<IndependentAwaitRuns.Candidate> run, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var function = SyntaxShape.EnclosingFunction(block) ?? block;
        var taken = new HashSet<string>();
        var first = run[0].Statement;
        var indentation = CodeFixHelpers.Indentation(first);
        var newLine = SyntaxFactory.EndOfLine(CodeFixHelpers.NewLine(first)); // not its trailing comment, which stays on its own line
        var starts = new List<StatementSyntax>();
        var awaits = new List<StatementSyntax>();
        foreach (var candidate in run)
        {
            var name = SyntaxShape.UniqueName(candidate.Declarator.Identifier.ValueText + "Task", function, model, block.SpanStart, taken);
            starts.Add(SyntaxFactory.ParseStatement("var " + name + " = " + candidate.Call.WithoutTrivia().ToFullString() + ";")
                .WithLeadingTrivia(indentation)
                .WithTrailingTrivia(newLine));

            ExpressionSyntax awaited = SyntaxFactory.IdentifierName(name);
            if (candidate.ConfigureAwait is not null)
            {
                awaited = SyntaxFactory.InvocationExpression(
                    SyntaxFactory.MemberAccessExpression(SyntaxKind.SimpleMemberAccessExpression, awaited, SyntaxFactory.IdentifierName("ConfigureAwait")),
                    SyntaxFactory.ArgumentList(SyntaxFactory.SingletonSeparatedList(candidate.ConfigureAwait.WithoutTrivia())));
            }

            var newAwait = candidate.Await.WithExpression(awaited.WithLeadingTrivia(SyntaxFactory.Space));
            awaits.Add(candidate.Statement.ReplaceNode(candidate.Await, newAwait));
        }

        // The first new statement keeps the comments that led the first original one.
        starts[0] = starts[0].WithLeadingTrivia(first.GetLeadingTrivia());
        awaits[0] = awaits[0].WithLeadingTrivia(indentation);

        var index = block.Statements.IndexOf(run[0].Statement);
        var statements = block.Statements.ToList();
        statements.RemoveRange(index, run.Count);
        statements.InsertRange(index, starts.Concat(awaits));
        var newBlock = block.WithStatements(SyntaxFactory.List(statements));
        return Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(block, newBlock)));
    }
}
