namespace ParallelExec;

/// <summary>
/// The ledger counters every component keeps, read at one moment: where every item handed to the component stands.
/// </summary>
/// <remarks>
/// <para>Every submission counts once in <see cref="Submitted"/> (a rejected one included) and is, at any moment, in
/// exactly one of the other seven places: queued, in flight, or ended as succeeded, failed, cancelled, dropped or
/// rejected. So a snapshot taken while the component is quiet satisfies
/// <c>Submitted == Succeeded + Failed + Cancelled + Dropped + Rejected + InFlight + Queued</c>
/// (<see cref="IsBalanced"/>); a snapshot of a busy component is read under its lock and balances too.</para>
/// <para>What an "item" is depends on the component: a work item (pool), a batch item (batch processor), a task (graph),
/// a delivery to one subscriber (bus), a request (agents, gate), a file operation (files), a key (memory stores).</para>
/// </remarks>
public readonly record struct LedgerSnapshot
{
    /// <summary>Gets how many items were handed to the component, refused ones included.</summary>
    public long Submitted { get; init; }

    /// <summary>Gets how many items ended with a result.</summary>
    public long Succeeded { get; init; }

    /// <summary>Gets how many items ended with an exception from their work.</summary>
    public long Failed { get; init; }

    /// <summary>Gets how many items ended cancelled (by their own token, the component's, or a failure policy).</summary>
    public long Cancelled { get; init; }

    /// <summary>Gets how many items were evicted from a full queue or cancelled by a passed drain timeout.</summary>
    public long Dropped { get; init; }

    /// <summary>Gets how many items a full queue in <see cref="QueueFullMode.Reject"/> mode refused.</summary>
    public long Rejected { get; init; }

    /// <summary>Gets how many items are running now.</summary>
    public long InFlight { get; init; }

    /// <summary>Gets how many items wait in the component's queue now (waiting submitters included).</summary>
    public long Queued { get; init; }

    /// <summary>Gets how many items have ended, whatever the outcome.</summary>
    public long Ended => Succeeded + Failed + Cancelled + Dropped + Rejected;

    /// <summary>Gets whether every submitted item is accounted for exactly once.</summary>
    public bool IsBalanced => Submitted == Ended + InFlight + Queued;
}
