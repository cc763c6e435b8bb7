using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>
/// Finds the runs of consecutive statements <c>var x = await Call(...);</c> of one block whose calls are independent of
/// each other (PEX001); the analyzer reports them and the fix rewrites them.
/// </summary>
internal static class IndependentAwaitRuns
{
    /// <summary>One statement of a run.</summary>
    internal sealed class Candidate
    {
        public Candidate(LocalDeclarationStatementSyntax statement, VariableDeclaratorSyntax declarator, AwaitExpressionSyntax awaitExpression, InvocationExpressionSyntax call, ArgumentSyntax? configureAwait, FlowFacts flow, string receiverKey, HashSet<ISymbol> sharedArguments)
        {
            SharedArguments = sharedArguments;
            Statement = statement;
            Declarator = declarator;
            Await = awaitExpression;
            Call = call;
            ConfigureAwait = configureAwait;
            Flow = flow;
            ReceiverKey = receiverKey;
        }

        public LocalDeclarationStatementSyntax Statement { get; }

        public VariableDeclaratorSyntax Declarator { get; }

        public AwaitExpressionSyntax Await { get; }

        public InvocationExpressionSyntax Call { get; }

        public ArgumentSyntax? ConfigureAwait { get; }

        public FlowFacts Flow { get; }

        /// <summary>
        /// Who the call is made on, for the "same object" check: empty for a static call, a local function or a receiver
        /// safe for concurrent calls; "this" for the containing instance; "?" when unknown; else the receiver variable.
        /// </summary>
        public string ReceiverKey { get; }

        /// <summary>The mutable objects handed to the call as arguments (a variable of a reference type, passed as it is).</summary>
        public HashSet<ISymbol> SharedArguments { get; }
    }

    public static List<List<Candidate>> Find(BlockSyntax block, SemanticModel model, KnownTypes types, CancellationToken cancellationToken)
    {
        var runs = new List<List<Candidate>>();
        if (!SyntaxShape.IsInAsyncFunction(block) || SyntaxShape.EnclosingTries(block).Any())
        {
            // Inside a try, a failure of the first call would reach the catch or finally while the second still runs.
            return runs;
        }

        var run = new List<Candidate>();
        foreach (var statement in block.Statements)
        {
            var candidate = AsCandidate(statement, model, types, cancellationToken);
            if (candidate is null)
            {
                Close(runs, ref run);
                continue;
            }

            if (!run.TrueForAll(earlier => Independent(earlier, candidate)))
            {
                Close(runs, ref run);
            }

            run.Add(candidate);
        }

        Close(runs, ref run);
        return runs;
    }

    private static void Close(List<List<Candidate>> runs, ref List<Candidate> run)
    {
        if (run.Count >= 2)
        {
            runs.Add(run);
        }

        run = new List<Candidate>();
    }

    private static bool Independent(Candidate a, Candidate b)
    {
        if (a.Flow.Declared.Overlaps(b.Flow.Reads) || b.Flow.Declared.Overlaps(a.Flow.Reads))
        {
            return false; // one uses the other's result
        }

        if (a.SharedArguments.Overlaps(b.SharedArguments))
        {
            return false; // one object handed to both calls: both may act on it
        }

        if (a.ReceiverKey.Length == 0 || b.ReceiverKey.Length == 0)
        {
            return a.ReceiverKey != "?" && b.ReceiverKey != "?";
        }

        // Two calls on the same object (or an unknown one) may share its state.
        return a.ReceiverKey != "?" && b.ReceiverKey != "?" && a.ReceiverKey != b.ReceiverKey;
    }

    private static Candidate? AsCandidate(StatementSyntax statement, SemanticModel model, KnownTypes types, CancellationToken cancellationToken)
    {
        // Only queries: `var x = await Call(...)`. An await kept for its effect alone (`await SaveAsync()`) is presumed
        // to be ordered on purpose (save, then notify).
        if (statement is not LocalDeclarationStatementSyntax local
            || local.UsingKeyword.IsKind(SyntaxKind.UsingKeyword)
            || local.IsConst
            || local.Declaration.Variables.Count != 1
            || local.Declaration.Variables[0].Initializer?.Value is not AwaitExpressionSyntax awaitExpression)
        {
            return null;
        }

        if (SyntaxShape.OwnNodes(statement).OfType<AwaitExpressionSyntax>().Count() != 1)
        {
            return null; // another await inside the call's arguments: that one is not moved
        }

        var call = SyntaxShape.AwaitedCall(awaitExpression, out var configureAwait);
        if (call is null || model.GetSymbolInfo(call, cancellationToken).Symbol is not IMethodSymbol method || !types.IsTaskLike(method.ReturnType)
            || KnownTypes.IsEffectName(method.Name))
        {
            return null; // not a call, or a call whose name says it changes something (save, publish): ordered on purpose
        }

        var receiver = SyntaxShape.ReceiverOf(call);
        var receiverType = receiver is null ? null : model.GetTypeInfo(receiver, cancellationToken).Type;
        if (KnownTypes.IsOrderingSensitive(method, receiverType))
        {
            return null;
        }

        var flow = FlowFacts.Of(statement, model, cancellationToken);
        foreach (var root in flow.WriteRoots)
        {
            if (root is null || !flow.Declared.Contains(root))
            {
                return null; // writes state outside itself (a captured variable, a field, a ref argument)
            }
        }

        var usingLocals = SyntaxShape.UsingLocalsInScope(statement, model, cancellationToken);
        foreach (var read in flow.Reads)
        {
            if (usingLocals.Contains(read) && !types.IsSafeForConcurrentCalls((read as ILocalSymbol)?.Type))
            {
                return null; // a resource of a using scope: if one call fails, the scope disposes it under the other
            }
        }

        var shared = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var argument in call.ArgumentList.Arguments)
        {
            if (argument.Expression is IdentifierNameSyntax or MemberAccessExpressionSyntax
                && model.GetTypeInfo(argument.Expression, cancellationToken).Type is { IsReferenceType: true, SpecialType: not SpecialType.System_String, TypeKind: not TypeKind.Delegate } argumentType
                && !types.IsSafeForConcurrentCalls(argumentType)
                && model.GetSymbolInfo(argument.Expression, cancellationToken).Symbol is ILocalSymbol or IParameterSymbol or IFieldSymbol or IPropertySymbol)
            {
                shared.Add(model.GetSymbolInfo(argument.Expression, cancellationToken).Symbol!);
            }
        }

        return new Candidate(local, local.Declaration.Variables[0], awaitExpression, call, configureAwait, flow, ReceiverKey(call, method, receiver, receiverType, model, types, cancellationToken), shared);
    }

    private static string ReceiverKey(InvocationExpressionSyntax call, IMethodSymbol method, ExpressionSyntax? receiver, ITypeSymbol? receiverType, SemanticModel model, KnownTypes types, CancellationToken cancellationToken)
    {
        if (SyntaxShape.LocalFunctionWritesOuterState(method, model, cancellationToken))
        {
            return "?"; // a local function that changes captured state: as unknown as a call on an unknown object
        }

        if (method.IsStatic || method.MethodKind == MethodKind.LocalFunction || method.IsExtensionMethod && method.ReducedFrom is null)
        {
            return string.Empty;
        }

        if (SyntaxShape.IsCallOnThis(call, method))
        {
            return "this";
        }

        if (types.IsSafeForConcurrentCalls(receiverType))
        {
            return string.Empty;
        }

        var root = receiver is null ? null : FlowFacts.RootOf(receiver, model, cancellationToken);
        if (root is null)
        {
            return "?";
        }

        // An extension method's receiver is its first argument; the key is still the variable it is called on.
        return root.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat) + "#" + root.Kind.ToString();
    }
}
