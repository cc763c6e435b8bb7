namespace ParallelExec.Internal;

/// <summary>
/// A node of a <see cref="WaitList{TNode}"/>: the item or waiter itself carries its links, so adding and removing
/// (on cancellation) allocate nothing and take O(1).
/// </summary>
/// <typeparam name="TNode">The node type.</typeparam>
internal abstract class WaitListNode<TNode>
    where TNode : WaitListNode<TNode>
{
    internal TNode? Previous;
    internal TNode? Next;
    internal WaitList<TNode>? List;

    /// <summary>Gets whether the node is in a list now.</summary>
    public bool IsListed => List is not null;
}

/// <summary>
/// The library's waiting list: a FIFO of intrusive nodes with O(1) add, remove-first, remove-last and remove-any (the
/// cancellation path). Used for items waiting in a bounded queue and for submitters waiting for room.
/// </summary>
/// <remarks>
/// <b>Invariant.</b> <see cref="Count"/> equals the nodes reachable from <see cref="First"/>; a node is in at most one
/// list, and <see cref="WaitListNode{TNode}.IsListed"/> says whether it is. <b>Locking.</b> None of its own: the owner
/// calls every member under its lock, which is how a cancellation racing a hand-off is decided once.
/// </remarks>
/// <typeparam name="TNode">The node type.</typeparam>
internal sealed class WaitList<TNode>
    where TNode : WaitListNode<TNode>
{
    /// <summary>Gets the oldest node, or <see langword="null"/>.</summary>
    public TNode? First { get; private set; }

    /// <summary>Gets the newest node, or <see langword="null"/>.</summary>
    public TNode? Last { get; private set; }

    /// <summary>Gets how many nodes are listed.</summary>
    public int Count { get; private set; }

    /// <summary>Appends a node that is in no list.</summary>
    /// <param name="node">The node.</param>
    public void AddLast(TNode node)
    {
        System.Diagnostics.Debug.Assert(node.List is null, "The node is already listed.");
        node.List = this;
        node.Previous = Last;
        node.Next = null;
        if (Last is null)
        {
            First = node;
        }
        else
        {
            Last.Next = node;
        }

        Last = node;
        Count++;
    }

    /// <summary>Removes and returns the oldest node, or <see langword="null"/>.</summary>
    /// <returns>The node.</returns>
    public TNode? RemoveFirst()
    {
        var node = First;
        if (node is not null)
        {
            Remove(node);
        }

        return node;
    }

    /// <summary>Removes and returns the newest node, or <see langword="null"/>.</summary>
    /// <returns>The node.</returns>
    public TNode? RemoveLast()
    {
        var node = Last;
        if (node is not null)
        {
            Remove(node);
        }

        return node;
    }

    /// <summary>Removes a node if it is in this list.</summary>
    /// <param name="node">The node.</param>
    /// <returns><see langword="true"/> if it was listed here and is now removed; <see langword="false"/> if another path took it first.</returns>
    public bool Remove(TNode node)
    {
        if (!ReferenceEquals(node.List, this))
        {
            return false;
        }

        if (node.Previous is null)
        {
            First = node.Next;
        }
        else
        {
            node.Previous.Next = node.Next;
        }

        if (node.Next is null)
        {
            Last = node.Previous;
        }
        else
        {
            node.Next.Previous = node.Previous;
        }

        node.Previous = node.Next = null;
        node.List = null;
        Count--;
        return true;
    }

    /// <summary>Removes every node and returns the first of them, still chained through <c>Next</c> (for completing them outside the lock).</summary>
    /// <returns>The former first node, or <see langword="null"/>.</returns>
    public TNode? DetachAll()
    {
        var first = First;
        for (var node = first; node is not null; node = node.Next)
        {
            node.List = null;
        }

        First = Last = null;
        Count = 0;
        return first;
    }
}
