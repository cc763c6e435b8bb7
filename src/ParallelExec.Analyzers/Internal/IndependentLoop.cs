using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace ParallelExec.Analyzers.Internal;

/// <summary>A <c>foreach</c> loop whose iterations await per-item work and carry no state to each other (PEX002).</summary>
internal sealed class IndependentLoop
{
    public IndependentLoop(ForEachStatementSyntax loop, ILocalSymbol item, bool configureAwaitFalse, ExpressionStatementSyntax? collect, ExpressionSyntax? collectTarget, ExpressionSyntax? collectValue)
    {
        Loop = loop;
        Item = item;
        ConfigureAwaitFalse = configureAwaitFalse;
        Collect = collect;
        CollectTarget = collectTarget;
        CollectValue = collectValue;
    }

    public ForEachStatementSyntax Loop { get; }

    public ILocalSymbol Item { get; }

    /// <summary>Whether the loop's awaits use <c>ConfigureAwait(false)</c>.</summary>
    public bool ConfigureAwaitFalse { get; }

    /// <summary>The last statement <c>list.Add(value)</c> that collects one result per item, if the loop has one.</summary>
    public ExpressionStatementSyntax? Collect { get; }

    public ExpressionSyntax? CollectTarget { get; }

    public ExpressionSyntax? CollectValue { get; }
}
