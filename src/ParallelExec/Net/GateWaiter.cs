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

    /// <summary>Orders waiters by priority (higher first), then by arrival.</summary>
    public static IComparer<GateWaiter> ByPriority { get; } = Comparer<GateWaiter>.Create(static (x, y) =>
        x.Call.Priority != y.Call.Priority ? y.Call.Priority.CompareTo(x.Call.Priority) : x.Sequence.CompareTo(y.Sequence));

    public GateCall Call { get; }

    /// <summary>Gets the arrival order among waiters, the tie-break between equal priorities.</summary>
    public long Sequence { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>Gets or sets the permits of the attempt, set when it is admitted.</summary>
    public GateTicket? Ticket { get; set; }

    /// <summary>Completed under the gate's lock; continuations never run inline there.</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
