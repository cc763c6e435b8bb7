using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>
/// What a piece of syntax reads, writes and declares, lambdas and local functions inside it included: the data flow the
/// analyzers check before calling two operations independent.
/// </summary>
internal sealed class FlowFacts
{
    private FlowFacts()
    {
    }

    /// <summary>Every local, parameter, field, property and event the syntax mentions.</summary>
    public HashSet<ISymbol> Reads { get; } = new(SymbolEqualityComparer.Default);

    /// <summary>
    /// Every variable or member assigned, incremented, passed by <c>ref</c>/<c>out</c> or called with a method whose name
    /// says it changes its receiver (<c>list.Add</c>), and the root it belongs to.
    /// </summary>
    public HashSet<ISymbol> Writes { get; } = new(SymbolEqualityComparer.Default);

    /// <summary>The root variable of each write (the <c>a</c> of <c>a.b[i] = x</c>); <see langword="null"/> when unknown.</summary>
    public List<ISymbol?> WriteRoots { get; } = new();

    /// <summary>The locals, parameters and range variables declared inside the syntax.</summary>
    public HashSet<ISymbol> Declared { get; } = new(SymbolEqualityComparer.Default);

    public static FlowFacts Of(SyntaxNode node, SemanticModel model, CancellationToken cancellationToken)
    {
        var facts = new FlowFacts();
        foreach (var current in node.DescendantNodesAndSelf())
        {
            cancellationToken.ThrowIfCancellationRequested();
            switch (current)
            {
                case IdentifierNameSyntax identifier:
                    var symbol = model.GetSymbolInfo(identifier, cancellationToken).Symbol;
                    if (symbol is ILocalSymbol or IParameterSymbol or IFieldSymbol or IPropertySymbol or IEventSymbol)
                    {
                        facts.Reads.Add(symbol);
                    }

                    break;
                case AssignmentExpressionSyntax assignment:
                    facts.AddWrite(assignment.Left, model, cancellationToken);
                    break;
                case PrefixUnaryExpressionSyntax prefix when prefix.IsKind(SyntaxKind.PreIncrementExpression) || prefix.IsKind(SyntaxKind.PreDecrementExpression):
                    facts.AddWrite(prefix.Operand, model, cancellationToken);
                    break;
                case PostfixUnaryExpressionSyntax postfix when postfix.IsKind(SyntaxKind.PostIncrementExpression) || postfix.IsKind(SyntaxKind.PostDecrementExpression):
                    facts.AddWrite(postfix.Operand, model, cancellationToken);
                    break;
                case InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax member } call
                    when KnownTypes.IsEffectName(member.Name.Identifier.ValueText) && !IsAwaited(call):
                    // `list.Add(x)`, `cache.Set(k, v)`: a call whose name says it changes its receiver writes it. (An
                    // awaited call is the operation the analyzers judge, on its own terms.)
                    facts.AddWrite(member.Expression, model, cancellationToken);
                    break;
                case ArgumentSyntax argument when argument.RefKindKeyword.IsKind(SyntaxKind.RefKeyword) || argument.RefKindKeyword.IsKind(SyntaxKind.OutKeyword):
                    facts.AddWrite(argument.Expression, model, cancellationToken);
                    break;
                case VariableDeclaratorSyntax or SingleVariableDesignationSyntax or ParameterSyntax or ForEachStatementSyntax or CatchDeclarationSyntax or FromClauseSyntax or LetClauseSyntax or JoinClauseSyntax or QueryContinuationSyntax:
                    var declared = model.GetDeclaredSymbol(current, cancellationToken);
                    if (declared is not null)
                    {
                        facts.Declared.Add(declared);
                    }

                    break;
            }
        }

        return facts;
    }

    /// <summary>
    /// The variable an expression's value lives in: the local, parameter or field of <c>a</c>, <c>a.b</c>, <c>a[i]</c>,
    /// <c>this.f</c>; <see langword="null"/> when it comes from a call or anything else not tracked.
    /// </summary>
    public static ISymbol? RootOf(ExpressionSyntax expression, SemanticModel model, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (expression)
            {
                case ParenthesizedExpressionSyntax parenthesized:
                    expression = parenthesized.Expression;
                    continue;
                case CastExpressionSyntax cast:
                    expression = cast.Expression;
                    continue;
                case PostfixUnaryExpressionSyntax bang when bang.IsKind(SyntaxKind.SuppressNullableWarningExpression):
                    expression = bang.Operand;
                    continue;
                case ElementAccessExpressionSyntax element:
                    expression = element.Expression;
                    continue;
                case MemberAccessExpressionSyntax member:
                    if (member.Expression is ThisExpressionSyntax or BaseExpressionSyntax
                        || model.GetSymbolInfo(member.Expression, cancellationToken).Symbol is INamedTypeSymbol or INamespaceSymbol)
                    {
                        return model.GetSymbolInfo(member.Name, cancellationToken).Symbol;
                    }

                    expression = member.Expression;
                    continue;
                case IdentifierNameSyntax identifier:
                    return model.GetSymbolInfo(identifier, cancellationToken).Symbol;
                default:
                    return null;
            }
        }
    }

    private static bool IsAwaited(InvocationExpressionSyntax call) =>
        call.Parent is AwaitExpressionSyntax
        || (call.Parent is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" } && call.Parent.Parent?.Parent is AwaitExpressionSyntax);

    private void AddWrite(ExpressionSyntax target, SemanticModel model, CancellationToken cancellationToken)
    {
        switch (target)
        {
            case TupleExpressionSyntax tuple:
                foreach (var argument in tuple.Arguments)
                {
                    AddWrite(argument.Expression, model, cancellationToken);
                }

                return;
            case DeclarationExpressionSyntax:
                return; // declares new variables; the designations are collected as declarations
            case IdentifierNameSyntax { Identifier.ValueText: "_" } when model.GetSymbolInfo(target, cancellationToken).Symbol is null or IDiscardSymbol:
                return; // a discard
        }

        var root = RootOf(target, model, cancellationToken);
        WriteRoots.Add(root);
        if (root is not null)
        {
            Writes.Add(root);
        }

        var written = model.GetSymbolInfo(target, cancellationToken).Symbol;
        if (written is not null)
        {
            Writes.Add(written);
        }
    }
}
