namespace ParallelExec.Net;

/// <summary>One call waiting for admission to an <see cref="HttpGate"/>.</summary>
/// <remarks>Every field but the task source is read and written under the gate's lock.</remarks>
internal sealed class GateWaiter
{
    public GateWaiter(GateProvider provider, int weight, int priority, long sequence, TimeSpan enqueuedAt)
    {
        Provider = provider;
        Weight = weight;
        Priority = priority;
        Sequence = sequence;
        EnqueuedAt = enqueuedAt;
    }

    public GateProvider Provider { get; }

    public int Weight { get; }

    public int Priority { get; }

    public long Sequence { get; }

    public TimeSpan EnqueuedAt { get; }

    public WaiterState State { get; set; }

    /// <summary>The node in the gate's arrival-order list while queued, or in its overflow list while waiting for room.</summary>
    public LinkedListNode<GateWaiter>? Node { get; set; }

    /// <summary>The permits of the call, set when it is admitted.</summary>
    public GateTicket? Ticket { get; set; }

    public CancellationToken CancellationToken { get; set; }

    /// <summary>Completed outside user code; continuations never run inline under the gate's lock.</summary>
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>Where a <see cref="GateWaiter"/> is in its life.</summary>
internal enum WaiterState
{
    /// <summary>Waiting for room in a full queue (<see cref="QueueFullMode.Wait"/>).</summary>
    Overflow,

    /// <summary>In its provider's priority queue.</summary>
    Queued,

    /// <summary>Admitted: holds a concurrency permit.</summary>
    Admitted,

    /// <summary>Ended without admission: cancelled, dropped or refused at disposal.</summary>
    Ended,
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

        var byPriority = y.Priority.CompareTo(x.Priority);
        return byPriority != 0 ? byPriority : x.Sequence.CompareTo(y.Sequence);
    }
}
