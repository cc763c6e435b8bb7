using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>One attempt of a call waiting for admission to an <see cref="HttpGate"/>.</summary>
/// <remarks>
/// It is listed in the gate's queue (and in its provider's <see cref="GateProvider.Waiting"/>), or in the gate's list of
/// calls waiting for room, until it is admitted, cancelled or dropped; whether it is listed is how a cancellation racing
/// an admission is decided once. Every member but the task source is used under the gate's lock.
/// </remarks>
internal sealed class GateWaiter : WaitListNode<GateWaiter>
{
    public GateWaiter(GateCall call, long sequence, CancellationToken cancellationToken)
    {
        Call = call;
        Sequence = sequence;
        CancellationToken = cancellationToken;
    }

    public GateCall Call { get; }

    /// <summary>Gets the arrival order among waiters, the tie-break between equal priorities.</summary>
    public long Sequence { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>Gets or sets the permits of the attempt, set when it is admitted.</summary>
    public GateTicket? Ticket { get; set; }

    /// <summary>Completed under the gate's lock; continuations never run inline there.</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Orders waiters by priority (higher first), then by arrival.</summary>
internal sealed class GateWaiterComparer : IComparer<GateWaiter>
{
    public static readonly GateWaiterComparer Instance = new();

    public int Compare(GateWaiter? x, GateWaiter? y)
    {
        if (ReferenceEquals(x, y))
        {
            return 0;
        }

        if (x is null)
        {
            return -1;
        }

        if (y is null)
        {
            return 1;
        }

        var byPriority = y.Call.Priority.CompareTo(x.Call.Priority);
        return byPriority != 0 ? byPriority : x.Sequence.CompareTo(y.Sequence);
    }
}
