using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>A single-item call awaited in a loop, of a type that has a bulk sibling (PEX003).</summary>
internal sealed class StoreCallInLoop
{
    public StoreCallInLoop(StatementSyntax loop, AwaitExpressionSyntax awaitExpression, InvocationExpressionSyntax call, IMethodSymbol method, ITypeSymbol receiverType, string bulkName, bool isMemoryStore)
    {
        Loop = loop;
        Await = awaitExpression;
        Call = call;
        Method = method;
        ReceiverType = receiverType;
        BulkName = bulkName;
        IsMemoryStore = isMemoryStore;
    }

    public StatementSyntax Loop { get; }

    public AwaitExpressionSyntax Await { get; }

    public InvocationExpressionSyntax Call { get; }

    public IMethodSymbol Method { get; }

    public ITypeSymbol ReceiverType { get; }

    public string BulkName { get; }

    /// <summary>Whether the receiver is a ParallelExec <c>IMemoryStore</c>, whose bulk calls the fix knows.</summary>
    public bool IsMemoryStore { get; }
}
