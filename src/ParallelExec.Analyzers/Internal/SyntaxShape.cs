using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>Syntax questions the analyzers and the fixes share.</summary>
internal static class SyntaxShape
{
    /// <summary>Whether a node starts a function of its own (a lambda, an anonymous method or a local function).</summary>
    public static bool IsFunction(SyntaxNode node) =>
        node is AnonymousFunctionExpressionSyntax or LocalFunctionStatementSyntax or BaseMethodDeclarationSyntax
            or AccessorDeclarationSyntax or CompilationUnitSyntax;

    /// <summary>The nodes under <paramref name="root"/> that belong to its own function, not to a nested lambda or local function.</summary>
    public static IEnumerable<SyntaxNode> OwnNodes(SyntaxNode root) =>
        root.DescendantNodes(node => node == root || !IsFunction(node)).Where(node => !IsFunction(node));

    /// <summary>The function (method, lambda, local function) that contains <paramref name="node"/>.</summary>
    public static SyntaxNode? EnclosingFunction(SyntaxNode node) => node.Ancestors().FirstOrDefault(IsFunction);

    /// <summary>Whether the function that contains <paramref name="node"/> is declared <c>async</c>.</summary>
    public static bool IsInAsyncFunction(SyntaxNode node) => EnclosingFunction(node) switch
    {
        AnonymousFunctionExpressionSyntax lambda => lambda.AsyncKeyword.IsKind(SyntaxKind.AsyncKeyword),
        LocalFunctionStatementSyntax local => local.Modifiers.Any(SyntaxKind.AsyncKeyword),
        MethodDeclarationSyntax method => method.Modifiers.Any(SyntaxKind.AsyncKeyword),
        CompilationUnitSyntax => true, // top-level statements are async when they await
        _ => false,
    };

    /// <summary>The <c>try</c> statements between <paramref name="node"/> and its function.</summary>
    public static IEnumerable<TryStatementSyntax> EnclosingTries(SyntaxNode node) =>
        node.Ancestors().TakeWhile(ancestor => !IsFunction(ancestor)).OfType<TryStatementSyntax>();

    /// <summary>
    /// The call an <c>await</c> waits for, looking through <c>.ConfigureAwait(x)</c>; <see langword="null"/> when it
    /// awaits something else (a variable, a property, a <c>new</c>).
    /// </summary>
    public static InvocationExpressionSyntax? AwaitedCall(AwaitExpressionSyntax awaitExpression, out ArgumentSyntax? configureAwait)
    {
        configureAwait = null;
        var operand = awaitExpression.Expression;
        if (operand is InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } member } configure
            && configure.ArgumentList.Arguments.Count == 1)
        {
            configureAwait = configure.ArgumentList.Arguments[0];
            operand = member.Expression;
        }

        return operand as InvocationExpressionSyntax;
    }

    /// <summary>The receiver of a call written <c>receiver.M(...)</c>; <see langword="null"/> for <c>M(...)</c>.</summary>
    public static ExpressionSyntax? ReceiverOf(InvocationExpressionSyntax call) => call.Expression switch
    {
        MemberAccessExpressionSyntax member => member.Expression,
        MemberBindingExpressionSyntax => null,
        _ => null,
    };

    /// <summary>Whether the call has a receiver that is <c>this</c>, written or implied, for an instance method.</summary>
    public static bool IsCallOnThis(InvocationExpressionSyntax call, IMethodSymbol method) =>
        !method.IsStatic && method.MethodKind != MethodKind.LocalFunction
        && (call.Expression is SimpleNameSyntax || ReceiverOf(call) is ThisExpressionSyntax or BaseExpressionSyntax);

    /// <summary>
    /// Whether a local function writes state outside itself (a captured variable, a field): calling it is then an effect
    /// that the caller's own syntax does not show.
    /// </summary>
    public static bool LocalFunctionWritesOuterState(IMethodSymbol method, SemanticModel model, CancellationToken cancellationToken)
    {
        if (method.MethodKind != MethodKind.LocalFunction)
        {
            return false;
        }

        foreach (var reference in method.DeclaringSyntaxReferences)
        {
            var declaration = reference.GetSyntax(cancellationToken);
            if (declaration.SyntaxTree != model.SyntaxTree)
            {
                return true;
            }

            var flow = FlowFacts.Of(declaration, model, cancellationToken);
            if (flow.WriteRoots.Any(root => root is null || !flow.Declared.Contains(root)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The locals declared by <c>using</c> (statement or declaration) that are in scope at <paramref name="node"/>,
    /// within its own function.
    /// </summary>
    public static HashSet<ISymbol> UsingLocalsInScope(SyntaxNode node, SemanticModel model, CancellationToken cancellationToken)
    {
        var result = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        SyntaxNode child = node;
        foreach (var ancestor in node.Ancestors())
        {
            if (IsFunction(ancestor))
            {
                break;
            }

            if (ancestor is UsingStatementSyntax { Declaration: { } declaration } && child != declaration)
            {
                AddDeclared(declaration, model, result, cancellationToken);
            }

            if (ancestor is BlockSyntax block)
            {
                foreach (var statement in block.Statements)
                {
                    if (statement.SpanStart >= child.SpanStart)
                    {
                        break;
                    }

                    if (statement is LocalDeclarationStatementSyntax local && local.UsingKeyword.IsKind(SyntaxKind.UsingKeyword))
                    {
                        AddDeclared(local.Declaration, model, result, cancellationToken);
                    }
                }
            }

            child = ancestor;
        }

        return result;
    }

    /// <summary>A name for a new local that nothing in the function already uses.</summary>
    public static string UniqueName(string wanted, SyntaxNode scope, SemanticModel model, int position, ISet<string> taken)
    {
        var used = new HashSet<string>(scope.DescendantTokens().Where(token => token.IsKind(SyntaxKind.IdentifierToken)).Select(token => token.ValueText));
        used.UnionWith(model.LookupSymbols(position).Select(symbol => symbol.Name));
        used.UnionWith(taken);
        var name = wanted;
        for (var suffix = 2; used.Contains(name); suffix++)
        {
            name = wanted + suffix.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        taken.Add(name);
        return name;
    }

    private static void AddDeclared(VariableDeclarationSyntax declaration, SemanticModel model, HashSet<ISymbol> into, CancellationToken cancellationToken)
    {
        foreach (var variable in declaration.Variables)
        {
            if (model.GetDeclaredSymbol(variable, cancellationToken) is { } symbol)
            {
                into.Add(symbol);
            }
        }
    }
}
