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
using Microsoft.CodeAnalysis.Formatting;
using Microsoft.CodeAnalysis.Simplification;
using ParallelExec.Analyzers.Internal;

namespace ParallelExec.Analyzers.CodeFixes;

/// <summary>
/// Fixes PEX003 for ParallelExec's <c>IMemoryStore</c>: a loop of <c>GetAsync(ns, key)</c> over a collection of keys
/// reads them all first with <c>GetManyAsync</c>; a loop whose only statement is <c>await SetAsync(ns, key, value)</c>
/// becomes one <c>SetManyAsync</c>. Other types with a <c>…ManyAsync</c> sibling get the diagnostic but no fix: their
/// bulk call's shape is not known.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(BulkStoreCallCodeFixProvider)), Shared]
public sealed class BulkStoreCallCodeFixProvider : CodeFixProvider
{
    private const string GetTitle = "Read every key with one GetManyAsync call";
    private const string SetTitle = "Write every entry with one SetManyAsync call";

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = ImmutableArray.Create(DiagnosticIds.OneByOneStoreCalls);

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

        if (types.MemoryStore is null)
        {
            return;
        }

        foreach (var diagnostic in context.Diagnostics)
        {
            var call = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true).FirstAncestorOrSelf<InvocationExpressionSyntax>();
            var loop = call?.Ancestors().TakeWhile(node => !SyntaxShape.IsFunction(node)).OfType<StatementSyntax>()
                .FirstOrDefault(node => node is ForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax);
            if (call is null || loop is not ForEachStatementSyntax forEach || forEach.Parent is not BlockSyntax)
            {
                continue;
            }

            var calls = LoopAnalysis.FindStoreCalls(forEach, model, types, context.CancellationToken);
            var store = calls.FirstOrDefault(found => found.Call == call);
            if (store is null || !store.IsMemoryStore || calls.Count(found => found.Method.Name == store.Method.Name) != 1)
            {
                continue;
            }

            var fix = store.Method.Name switch
            {
                "GetAsync" => TryGetFix(context.Document, root, model, forEach, store, types, context.CancellationToken),
                "SetAsync" => TrySetFix(context.Document, root, model, forEach, store, context.CancellationToken),
                _ => null,
            };
            if (fix is not null)
            {
                context.RegisterCodeFix(fix, diagnostic);
            }
        }
    }

    private static CodeAction? TryGetFix(Document document, SyntaxNode root, SemanticModel model, ForEachStatementSyntax loop, StoreCallInLoop store, KnownTypes types, CancellationToken cancellationToken)
    {
        var arguments = CodeFixHelpers.ArgumentsByName(store.Call, store.Method);
        if (arguments is null || !arguments.TryGetValue("namespaceName", out var ns) || !arguments.TryGetValue("key", out var key)
            || model.GetDeclaredSymbol(loop, cancellationToken) is not ILocalSymbol item
            || item.Type.SpecialType != SpecialType.System_String
            || key is not IdentifierNameSyntax keyName
            || !SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(keyName, cancellationToken).Symbol, item)
            || !IsPlainVariable(loop.Expression)
            || !IsMaterialized(model.GetTypeInfo(loop.Expression, cancellationToken).Type, types))
        {
            return null; // the keys must be the loop's items, from a collection that can be enumerated twice
        }

        var invariant = new List<ExpressionSyntax> { ns };
        arguments.TryGetValue("cancellationToken", out var token);
        if (token is not null)
        {
            invariant.Add(token);
        }

        if (!LoopInvariant(invariant, loop, model, cancellationToken))
        {
            return null;
        }

        return CodeAction.Create(GetTitle, cancellationToken =>
        {
            var taken = new HashSet<string>();
            var function = SyntaxShape.EnclosingFunction(loop) ?? loop;
            var values = SyntaxShape.UniqueName("values", function, model, loop.SpanStart, taken);
            var found = SyntaxShape.UniqueName("found", function, model, loop.SpanStart, taken);
            SyntaxShape.AwaitedCall(store.Await, out var configureAwait);
            var receiver = SyntaxShape.ReceiverOf(store.Call)!.WithoutTrivia().ToFullString();
            var read = "var " + values + " = await " + receiver + ".GetManyAsync(" + Text(ns) + ", " + Text(loop.Expression)
                + (token is null ? string.Empty : ", " + Text(token)) + ")"
                + (configureAwait is null ? string.Empty : ".ConfigureAwait(" + Text(configureAwait.Expression) + ")") + ";";
            var memory = model.Compilation.GetTypeByMetadataName("System.ReadOnlyMemory`1");
            var memoryName = "global::System.ReadOnlyMemory";
            if (memory is not null && CodeFixHelpers.NameOf(memory, model, loop.SpanStart, out var needsUsing) == memory.Name && !needsUsing)
            {
                memoryName = memory.Name; // System is imported
            }

            var lookup = SyntaxFactory.ParseExpression(
                    "(" + values + ".TryGetValue(" + item.Name + ", out var " + found + ") ? " + found + " : (" + memoryName + "<byte>?)null)")
                .WithTriviaFrom(store.Await)
                .WithAdditionalAnnotations(Simplifier.Annotation);
            var readStatement = SyntaxFactory.ParseStatement(read)
                .WithLeadingTrivia(loop.GetLeadingTrivia())
                .WithTrailingTrivia(SyntaxFactory.EndOfLine(CodeFixHelpers.NewLine(loop)))
                .WithAdditionalAnnotations(Formatter.Annotation);
            var newLoop = loop.ReplaceNode(store.Await, lookup).WithLeadingTrivia(CodeFixHelpers.Indentation(loop));
            var block = (BlockSyntax)loop.Parent!;
            var statements = block.Statements.ToList();
            var index = statements.IndexOf(loop);
            statements[index] = newLoop;
            statements.Insert(index, readStatement);
            return Task.FromResult(document.WithSyntaxRoot(root.ReplaceNode(block, block.WithStatements(SyntaxFactory.List(statements)))));
        }, nameof(BulkStoreCallCodeFixProvider) + ".Get");
    }

    private static CodeAction? TrySetFix(Document document, SyntaxNode root, SemanticModel model, ForEachStatementSyntax loop, StoreCallInLoop store, CancellationToken cancellationToken)
    {
        var only = loop.Statement is BlockSyntax { Statements.Count: 1 } block ? block.Statements[0] : loop.Statement;
        var arguments = CodeFixHelpers.ArgumentsByName(store.Call, store.Method);
        if (only is not ExpressionStatementSyntax { Expression: AwaitExpressionSyntax awaitExpression } || awaitExpression != store.Await
            || arguments is null || !arguments.TryGetValue("namespaceName", out var ns) || !arguments.TryGetValue("key", out var key)
            || !arguments.TryGetValue("value", out var value)
            || key.DescendantNodesAndSelf().OfType<AwaitExpressionSyntax>().Any() || value.DescendantNodesAndSelf().OfType<AwaitExpressionSyntax>().Any())
        {
            return null; // only a loop that does nothing but write one entry per item
        }

        arguments.TryGetValue("timeToLive", out var timeToLive);
        arguments.TryGetValue("cancellationToken", out var token);
        var invariant = new List<ExpressionSyntax> { ns };
        invariant.AddRange(new[] { timeToLive, token }.Where(argument => argument is not null)!);
        if (!LoopInvariant(invariant, loop, model, cancellationToken))
        {
            return null;
        }

        return CodeAction.Create(SetTitle, cancellationToken =>
        {
            SyntaxShape.AwaitedCall(store.Await, out var configureAwait);
            var receiver = SyntaxShape.ReceiverOf(store.Call)!.WithoutTrivia().ToFullString();
            var item = loop.Identifier.ValueText;
            var write = "await " + receiver + ".SetManyAsync(" + Text(ns) + ", " + Text(loop.Expression) + ".Select(" + item
                + " => new global::System.Collections.Generic.KeyValuePair<string, global::System.ReadOnlyMemory<byte>>(" + Text(key) + ", " + Text(value) + "))"
                + (timeToLive is null ? string.Empty : ", timeToLive: " + Text(timeToLive))
                + (token is null ? string.Empty : ", cancellationToken: " + Text(token)) + ")"
                + (configureAwait is null ? string.Empty : ".ConfigureAwait(" + Text(configureAwait.Expression) + ")") + ";";
            var statement = SyntaxFactory.ParseStatement(write)
                .WithTriviaFrom(loop)
                .WithAdditionalAnnotations(Formatter.Annotation, Simplifier.Annotation);
            var newRoot = root.ReplaceNode(loop, statement);
            if (newRoot is CompilationUnitSyntax unit && !CodeFixHelpers.HasUsing(unit, model.Compilation, "System.Linq"))
            {
                newRoot = CodeFixHelpers.AddUsing(unit, "System.Linq");
            }

            return Task.FromResult(document.WithSyntaxRoot(newRoot));
        }, nameof(BulkStoreCallCodeFixProvider) + ".Set");
    }

    private static bool LoopInvariant(IEnumerable<ExpressionSyntax> expressions, ForEachStatementSyntax loop, SemanticModel model, CancellationToken cancellationToken)
    {
        var declared = FlowFacts.Of(loop, model, cancellationToken).Declared;
        return expressions.All(expression =>
            !expression.DescendantNodesAndSelf().OfType<AwaitExpressionSyntax>().Any()
            && !FlowFacts.Of(expression, model, cancellationToken).Reads.Overlaps(declared));
    }

    private static bool IsPlainVariable(ExpressionSyntax expression) => expression switch
    {
        IdentifierNameSyntax => true,
        MemberAccessExpressionSyntax member => member.Expression is ThisExpressionSyntax || IsPlainVariable(member.Expression),
        _ => false,
    };

    private static bool IsMaterialized(ITypeSymbol? type, KnownTypes types) =>
        type is IArrayTypeSymbol || KnownTypes.IsOrInherits(type, types.CollectionOfT) || KnownTypes.IsOrInherits(type, types.ReadOnlyCollectionOfT);

    private static string Text(SyntaxNode node) => node.WithoutTrivia().ToFullString();
}
