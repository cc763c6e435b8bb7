using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>The loop checks behind PEX002 and PEX003, shared by the analyzer and the fixes.</summary>
internal static class LoopAnalysis
{
    private const string AsyncSuffix = "Async";
    private const string ManySuffix = "ManyAsync";

    /// <summary>The awaited single-item store calls in a loop (PEX003); empty when there are none.</summary>
    public static List<StoreCallInLoop> FindStoreCalls(StatementSyntax loop, SemanticModel model, KnownTypes types, CancellationToken cancellationToken)
    {
        var found = new List<StoreCallInLoop>();
        var body = BodyOf(loop);
        if (body is null || !SyntaxShape.IsInAsyncFunction(loop))
        {
            return found;
        }

        var declaredInLoop = FlowFacts.Of(loop, model, cancellationToken).Declared;
        var callsByReceiver = new Dictionary<ISymbol, List<(AwaitExpressionSyntax Await, InvocationExpressionSyntax Call, IMethodSymbol Method, ITypeSymbol Type)>>(SymbolEqualityComparer.Default);
        var otherUses = new HashSet<ISymbol>(SymbolEqualityComparer.Default);
        foreach (var node in SyntaxShape.OwnNodes(body))
        {
            if (node is not InvocationExpressionSyntax call
                || call.Ancestors().First(IsLoop) != loop
                || SyntaxShape.ReceiverOf(call) is not { } receiver
                || model.GetSymbolInfo(call, cancellationToken).Symbol is not IMethodSymbol method
                || FlowFacts.RootOf(receiver, model, cancellationToken) is not { } root
                || declaredInLoop.Contains(root))
            {
                continue;
            }

            var awaitExpression = call.Parent as AwaitExpressionSyntax
                ?? (call.Parent?.Parent?.Parent is AwaitExpressionSyntax outer && SyntaxShape.AwaitedCall(outer, out _) == call ? outer : null);
            var receiverType = model.GetTypeInfo(receiver, cancellationToken).Type;
            if (awaitExpression is null || receiverType is null || !types.IsTaskLike(method.ReturnType))
            {
                otherUses.Add(root);
                continue;
            }

            if (!callsByReceiver.TryGetValue(root, out var calls))
            {
                callsByReceiver[root] = calls = new();
            }

            calls.Add((awaitExpression, call, method, receiverType));
        }

        foreach (var pair in callsByReceiver)
        {
            var calls = pair.Value;
            if (otherUses.Contains(pair.Key) || calls.Select(c => c.Method.Name).Distinct().Count() != 1)
            {
                continue; // the store is used in other ways in the loop too (read-modify-write, mixed calls): ordering may matter
            }

            var first = calls[0];
            var name = first.Method.Name;
            if (!name.EndsWith(AsyncSuffix, System.StringComparison.Ordinal) || name.EndsWith(ManySuffix, System.StringComparison.Ordinal))
            {
                continue;
            }

            var bulkName = name.Substring(0, name.Length - AsyncSuffix.Length) + ManySuffix;
            if (!HasMethod(first.Type, bulkName))
            {
                continue;
            }

            var perItem = calls.TrueForAll(c => FlowFacts.Of(c.Call.ArgumentList, model, cancellationToken).Reads.Overlaps(declaredInLoop));
            if (!perItem)
            {
                continue; // the same call each time: not one call per item
            }

            var isMemoryStore = KnownTypes.IsOrInherits(first.Type, types.MemoryStore);
            found.AddRange(calls.Select(c => new StoreCallInLoop(loop, c.Await, c.Call, c.Method, c.Type, bulkName, isMemoryStore)));
        }

        return found;
    }

    /// <summary>The loop as PEX002 sees it, or <see langword="null"/> when it does not qualify.</summary>
    public static IndependentLoop? AnalyzeForEach(ForEachStatementSyntax loop, SemanticModel model, KnownTypes types, CancellationToken cancellationToken)
    {
        if (loop.AwaitKeyword.IsKind(SyntaxKind.AwaitKeyword) || !SyntaxShape.IsInAsyncFunction(loop))
        {
            return null;
        }

        if (SyntaxShape.EnclosingTries(loop).Any(attempt => attempt.Catches.Count > 0))
        {
            return null; // the concurrent version reports failures as one AggregateException: the catch would change meaning
        }

        var info = model.GetForEachStatementInfo(loop);
        if (info.ElementType is null || !info.ElementConversion.IsIdentity || model.GetDeclaredSymbol(loop, cancellationToken) is not ILocalSymbol item
            || !SymbolEqualityComparer.Default.Equals(item.Type, info.ElementType))
        {
            return null;
        }

        var collectionType = model.GetTypeInfo(loop.Expression, cancellationToken).Type;
        if (collectionType is not IArrayTypeSymbol && !KnownTypes.IsOrInherits(collectionType, types.EnumerableOfT))
        {
            return null; // spans and custom enumerators cannot be handed to ForEachAsync
        }

        var body = loop.Statement;
        var flow = FlowFacts.Of(body, model, cancellationToken);
        var declared = new HashSet<ISymbol>(flow.Declared, SymbolEqualityComparer.Default) { item };
        var collect = FindCollect(body, model, types, declared, cancellationToken);
        var collectList = collect is null ? null : model.GetSymbolInfo(((MemberAccessExpressionSyntax)((InvocationExpressionSyntax)collect.Expression).Expression).Expression, cancellationToken).Symbol;
        foreach (var root in flow.WriteRoots)
        {
            // The collecting Add is the one write of its list (FindCollect checked the list appears nowhere else).
            if (root is null || (!declared.Contains(root) && !SymbolEqualityComparer.Default.Equals(root, collectList)))
            {
                return null; // loop-carried state: a variable or member outside the iteration is written
            }
        }

        if (!ControlStaysInIteration(loop))
        {
            return null;
        }

        var awaits = SyntaxShape.OwnNodes(body).OfType<AwaitExpressionSyntax>().ToList();
        if (awaits.Count == 0)
        {
            return null;
        }

        var usingLocals = SyntaxShape.UsingLocalsInScope(loop, model, cancellationToken);
        var awaitedCalls = new HashSet<InvocationExpressionSyntax>();
        var perItem = false;
        var configureAwaitFalse = false;
        var methodsByReceiver = new Dictionary<ISymbol, HashSet<string>>(SymbolEqualityComparer.Default);
        foreach (var awaitExpression in awaits)
        {
            var call = SyntaxShape.AwaitedCall(awaitExpression, out var configureAwait);
            if (call is null || model.GetSymbolInfo(call, cancellationToken).Symbol is not IMethodSymbol method || !types.IsTaskLike(method.ReturnType))
            {
                return null;
            }

            var receiver = SyntaxShape.ReceiverOf(call);
            var receiverType = receiver is null ? null : model.GetTypeInfo(receiver, cancellationToken).Type;
            if (KnownTypes.IsOrderingSensitive(method, receiverType) || SyntaxShape.LocalFunctionWritesOuterState(method, model, cancellationToken))
            {
                return null; // a delay, a lock, a stream, a connection, a local function that changes captured state
            }

            var callFlow = FlowFacts.Of(call, model, cancellationToken);
            foreach (var read in callFlow.Reads)
            {
                if (usingLocals.Contains(read) && !types.IsSafeForConcurrentCalls((read as ILocalSymbol)?.Type))
                {
                    return null; // a resource of an enclosing using scope, shared by every item
                }
            }

            if (receiver is not null && FlowFacts.RootOf(receiver, model, cancellationToken) is { } receiverRoot && !declared.Contains(receiverRoot))
            {
                if (KnownTypes.IsOrderedSinkName(method.Name))
                {
                    return null; // each item published or appended to one shared bus, queue or log: their order is what readers see
                }

                if (!methodsByReceiver.TryGetValue(receiverRoot, out var names))
                {
                    methodsByReceiver[receiverRoot] = names = new HashSet<string>();
                }

                names.Add(method.Name);
            }

            perItem |= callFlow.Reads.Overlaps(declared);
            configureAwaitFalse |= configureAwait?.Expression is LiteralExpressionSyntax literal && literal.IsKind(SyntaxKind.FalseLiteralExpression);
            awaitedCalls.Add(call);
        }

        if (!perItem)
        {
            return null; // the awaited work does not depend on the item (a delay per item, a poll)
        }

        if (methodsByReceiver.Values.Any(names => names.Count > 1 && names.Any(KnownTypes.IsEffectName)))
        {
            return null; // read-modify-write on one shared object: two items with the same key would race
        }

        foreach (var call in body.DescendantNodesAndSelf().OfType<InvocationExpressionSyntax>())
        {
            if (awaitedCalls.Contains(call) || (collect is not null && collect.Expression == call)
                || call.Expression is MemberAccessExpressionSyntax { Name.Identifier.ValueText: "ConfigureAwait" })
            {
                continue;
            }

            if (!IsHarmlessCall(call, model, declared, cancellationToken))
            {
                return null;
            }
        }

        return new IndependentLoop(loop, item, configureAwaitFalse, collect,
            (collect?.Expression as InvocationExpressionSyntax)?.Expression is MemberAccessExpressionSyntax target ? target.Expression : null,
            (collect?.Expression as InvocationExpressionSyntax)?.ArgumentList.Arguments[0].Expression);
    }

    /// <summary>
    /// Whether a call that is not awaited is safe to run for several items at once: a static call outside the
    /// ordering-sensitive namespaces, or an instance call on the item, on a local of the iteration or on a string.
    /// </summary>
    private static bool IsHarmlessCall(InvocationExpressionSyntax call, SemanticModel model, HashSet<ISymbol> declared, CancellationToken cancellationToken)
    {
        if (model.GetSymbolInfo(call, cancellationToken).Symbol is not IMethodSymbol method)
        {
            return call.Expression is IdentifierNameSyntax { Identifier.ValueText: "nameof" }; // a constant; else unknown
        }

        var receiver = SyntaxShape.ReceiverOf(call);
        var receiverType = receiver is null ? null : model.GetTypeInfo(receiver, cancellationToken).Type;
        if (KnownTypes.IsOrderingSensitive(method, method.ReducedFrom is null ? null : receiverType))
        {
            return false; // the console, files, locks, timing: their order shows
        }

        if (method.MethodKind == MethodKind.LocalFunction)
        {
            return !SyntaxShape.LocalFunctionWritesOuterState(method, model, cancellationToken);
        }

        if (method.IsStatic || method.ReducedFrom is not null)
        {
            // A static call may change static state, an extension call its receiver: a name that says so is an effect,
            // unless it acts on something of the iteration.
            var targetRoot = method.ReducedFrom is not null && receiver is not null ? FlowFacts.RootOf(receiver, model, cancellationToken) : null;
            return !KnownTypes.IsEffectName(method.Name) || (targetRoot is not null && declared.Contains(targetRoot));
        }

        if (SyntaxShape.IsCallOnThis(call, method))
        {
            return false; // may change the instance's state
        }

        if (receiverType is not null && (receiverType.SpecialType != SpecialType.None || receiverType.TypeKind == TypeKind.Enum))
        {
            return true; // strings and primitives do not change
        }

        var root = receiver is null ? null : FlowFacts.RootOf(receiver, model, cancellationToken);
        return root is not null && declared.Contains(root);
    }

    private static ExpressionStatementSyntax? FindCollect(StatementSyntax body, SemanticModel model, KnownTypes types, HashSet<ISymbol> declared, CancellationToken cancellationToken)
    {
        var last = body is BlockSyntax block ? block.Statements.LastOrDefault() : body;
        if (last is not ExpressionStatementSyntax { Expression: InvocationExpressionSyntax { Expression: MemberAccessExpressionSyntax { Name.Identifier.ValueText: "Add" } member } call } statement
            || call.ArgumentList.Arguments.Count != 1
            || !call.ArgumentList.Arguments[0].RefKindKeyword.IsKind(SyntaxKind.None)
            || model.GetSymbolInfo(member.Expression, cancellationToken).Symbol is not ILocalSymbol list
            || declared.Contains(list)
            || list.Type is not INamedTypeSymbol { TypeArguments.Length: 1 } listType
            || !SymbolEqualityComparer.Default.Equals(listType.OriginalDefinition, types.ListOfT))
        {
            return null;
        }

        var value = call.ArgumentList.Arguments[0].Expression;
        if (value is ImplicitObjectCreationExpressionSyntax or CollectionExpressionSyntax or AnonymousFunctionExpressionSyntax
                || value.IsKind(SyntaxKind.DefaultLiteralExpression) || value.IsKind(SyntaxKind.NullLiteralExpression)
            || !SymbolEqualityComparer.IncludeNullability.Equals(model.GetTypeInfo(value, cancellationToken).Type, listType.TypeArguments[0]))
        {
            return null; // a value typed by its target, or one that needs a conversion: the lambda could not return it as is
        }

        var element = listType.TypeArguments[0];
        if (element.IsReferenceType && element.NullableAnnotation == NullableAnnotation.NotAnnotated
            && model.GetTypeInfo(value, cancellationToken).Nullability.FlowState == NullableFlowState.MaybeNull)
        {
            return null; // the lambda would return a maybe-null value into a list of non-null ones (a nullable warning)
        }

        // The list may appear nowhere else in the loop: each iteration only appends its own result.
        var mentions = body.DescendantNodes().OfType<IdentifierNameSyntax>()
            .Count(identifier => SymbolEqualityComparer.Default.Equals(model.GetSymbolInfo(identifier, cancellationToken).Symbol, list));
        return mentions == 1 ? statement : null;
    }

    /// <summary>No <c>break</c>, <c>continue</c>, <c>return</c>, <c>goto</c> or <c>yield</c> leaves an iteration early.</summary>
    private static bool ControlStaysInIteration(ForEachStatementSyntax loop)
    {
        foreach (var node in SyntaxShape.OwnNodes(loop.Statement))
        {
            switch (node)
            {
                case ReturnStatementSyntax or YieldStatementSyntax or GotoStatementSyntax or LabeledStatementSyntax or LockStatementSyntax:
                    return false;
                case BreakStatementSyntax or ContinueStatementSyntax:
                    var target = node.Ancestors().First(ancestor => ancestor is ForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax
                        || (node is BreakStatementSyntax && ancestor is SwitchSectionSyntax));
                    if (target == loop)
                    {
                        return false;
                    }

                    break;
                case UsingStatementSyntax { AwaitKeyword.RawKind: (int)SyntaxKind.AwaitKeyword }:
                case LocalDeclarationStatementSyntax { AwaitKeyword.RawKind: (int)SyntaxKind.AwaitKeyword }:
                case ForEachStatementSyntax { AwaitKeyword.RawKind: (int)SyntaxKind.AwaitKeyword }:
                    return false;
            }
        }

        return true;
    }

    /// <summary>A call belongs to its innermost loop only, so nested loops report it once.</summary>
    private static bool IsLoop(SyntaxNode node) => node is ForEachStatementSyntax or ForStatementSyntax or WhileStatementSyntax or DoStatementSyntax;

    private static StatementSyntax? BodyOf(StatementSyntax loop) => loop switch
    {
        ForEachStatementSyntax forEach when !forEach.AwaitKeyword.IsKind(SyntaxKind.AwaitKeyword) => forEach.Statement,
        ForStatementSyntax forLoop => forLoop.Statement,
        WhileStatementSyntax whileLoop => whileLoop.Statement,
        DoStatementSyntax doLoop => doLoop.Statement,
        _ => null,
    };

    private static bool HasMethod(ITypeSymbol type, string name)
    {
        if (type.GetMembers(name).OfType<IMethodSymbol>().Any())
        {
            return true;
        }

        for (var current = type.BaseType; current is not null; current = current.BaseType)
        {
            if (current.GetMembers(name).OfType<IMethodSymbol>().Any())
            {
                return true;
            }
        }

        return type.AllInterfaces.Any(implemented => implemented.GetMembers(name).OfType<IMethodSymbol>().Any());
    }
}
