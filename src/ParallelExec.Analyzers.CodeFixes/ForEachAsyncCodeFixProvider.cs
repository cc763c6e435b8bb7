using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Text;
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
/// Fixes PEX002 when the compilation references ParallelExec: the loop becomes one
/// <c>await Exec.ForEachAsync(items, 8, async (item, _) =&gt; { ... }, cancellationToken)</c>; a loop that ends with
/// <c>list.Add(value)</c> becomes <c>list.AddRange(await Exec.ForEachAsync(...))</c>, the results in input order.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ForEachAsyncCodeFixProvider)), Shared]
public sealed class ForEachAsyncCodeFixProvider : CodeFixProvider
{
    private const string Title = "Run the items concurrently with Exec.ForEachAsync";

    /// <summary>The bound the fix writes; the user tunes it. Positional, so it survives a rename of the parameter.</summary>
    private const string Bound = "/* maxDegreeOfParallelism */ 8";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.AwaitInLoop);

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

        if (types.Exec is null)
        {
            return; // the fix writes a call to ParallelExec, which this compilation does not reference
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            var loop = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<ForEachStatementSyntax>();
            // In a struct, a lambda cannot use the instance (CS1673): no fix there.
            if (loop is null || loop.Identifier.ValueText == "_"
                || model.GetEnclosingSymbol(loop.SpanStart, context.CancellationToken)?.ContainingType?.IsValueType == true
                || LoopAnalysis.AnalyzeForEach(loop, model, types, context.CancellationToken) is not { } analysis)
            {
                continue;
            }

            context.RegisterCodeFix(
                CodeAction.Create(Title, cancellationToken => Task.FromResult(Fix(context.Document, root, model, types.Exec, analysis, cancellationToken)), nameof(ForEachAsyncCodeFixProvider)),
                diagnostic);
        }
    }

    private static Document Fix(Document document, SyntaxNode root, SemanticModel model, INamedTypeSymbol exec, IndependentLoop analysis, CancellationToken cancellationToken)
    {
        var loop = analysis.Loop;
        var execName = CodeFixHelpers.NameOf(exec, model, loop.SpanStart, out var needsUsing);
        var token = CodeFixHelpers.CancellationTokenParameter(loop, model, cancellationToken);
        var statements = loop.Statement is BlockSyntax block ? block.Statements.ToList() : new() { loop.Statement };
        if (analysis.Collect is not null)
        {
            statements.RemoveAt(statements.Count - 1);
        }

        // The lambda's braces take the loop's place and its statements keep their lines and indentation, one level in.
        var newLine = CodeFixHelpers.NewLine(loop);
        var loopIndent = CodeFixHelpers.Indentation(loop).ToFullString();
        var bodyIndent = statements.Count > 0 ? CodeFixHelpers.Indentation(statements[0]).ToFullString() : loopIndent + "    ";
        // The lambda's own token is not used (the body keeps the token it had); it is named `_` unless the body uses
        // `_` itself (a discard assignment would then assign the parameter).
        var tokenName = loop.Statement.DescendantTokens().Any(t => t.IsKind(SyntaxKind.IdentifierToken) && t.ValueText == "_")
            ? SyntaxShape.UniqueName("itemCancellation", SyntaxShape.EnclosingFunction(loop) ?? loop, model, loop.SpanStart, new System.Collections.Generic.HashSet<string>())
            : "_";
        var lambda = new StringBuilder("async (").Append(loop.Identifier.ValueText).Append(", ").Append(tokenName).Append(") =>");
        if (analysis.CollectValue is not null && statements.Count == 0)
        {
            lambda.Append(' ').Append(analysis.CollectValue.WithoutTrivia().ToFullString());
        }
        else
        {
            lambda.Append(newLine).Append(loopIndent).Append('{').Append(newLine);
            foreach (var statement in statements)
            {
                lambda.Append(statement.ToFullString());
            }

            lambda.Append(bodyIndent).Append("return ").Append(analysis.CollectValue?.WithoutTrivia().ToFullString() ?? "true").Append(';').Append(newLine)
                .Append(loopIndent).Append('}');
        }

        var call = new StringBuilder("await ").Append(execName).Append(".ForEachAsync(")
            .Append(loop.Expression.WithoutTrivia().ToFullString()).Append(", ").Append(Bound).Append(", ").Append(lambda);
        if (token is not null)
        {
            call.Append(", ").Append(token);
        }

        call.Append(')');
        if (analysis.ConfigureAwaitFalse)
        {
            call.Append(".ConfigureAwait(false)");
        }

        var text = analysis.CollectTarget is null
            ? call.Append(';').ToString()
            : analysis.CollectTarget.WithoutTrivia().ToFullString() + ".AddRange(" + call + ");";
        var replacement = SyntaxFactory.ParseStatement(text)
            .WithLeadingTrivia(loop.GetLeadingTrivia())
            .WithTrailingTrivia(loop.GetTrailingTrivia());
        var newRoot = root.ReplaceNode(loop, replacement);
        if (needsUsing && newRoot is CompilationUnitSyntax unit && !CodeFixHelpers.HasUsing(unit, model.Compilation, "ParallelExec"))
        {
            newRoot = CodeFixHelpers.AddUsing(unit, "ParallelExec");
        }

        return document.WithSyntaxRoot(newRoot);
    }
}
