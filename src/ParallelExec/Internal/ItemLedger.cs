namespace ParallelExec.Internal;

/// <summary>
/// The counters behind a component's <see cref="LedgerSnapshot"/>: every item handed over is counted submitted once,
/// moves into the queue or straight into flight, and ends in exactly one of the end counters.
/// </summary>
/// <remarks>
/// <para><b>Invariant</b> (checked by <see cref="AssertBalanced"/> in Debug builds, under the owner's lock):
/// <c>Submitted == Succeeded + Failed + Cancelled + Dropped + Rejected + InFlight + Queued</c>, and no counter is
/// negative.</para>
/// <para><b>Locking.</b> The fields are plain: the owner mutates them under its own lock and reads the snapshot under it
/// too. A component whose hot path runs outside its lock uses the <c>*Atomic</c> methods for that counter everywhere
/// and reads <see cref="Snapshot"/> knowing that such a counter may be a step ahead of the others.</para>
/// </remarks>
internal sealed class ItemLedger
{
    public long Submitted;
    public long Succeeded;
    public long Failed;
    public long Cancelled;
    public long Dropped;
    public long Rejected;
    public long InFlight;
    public long Queued;

    /// <summary>Counts a submission that is queued (<paramref name="queued"/>) or starts at once.</summary>
    /// <param name="queued">Whether it waits in the queue.</param>
    public void Accept(bool queued)
    {
        Submitted++;
        if (queued)
        {
            Queued++;
        }
        else
        {
            InFlight++;
        }
    }

    /// <summary>Counts a submission refused at intake (<see cref="QueueFullMode.Reject"/>).</summary>
    public void Refuse()
    {
        Submitted++;
        Rejected++;
    }

    /// <summary>Moves a queued item into flight.</summary>
    public void Start()
    {
        Queued--;
        InFlight++;
    }

    /// <summary>Ends an item in flight.</summary>
    /// <param name="outcome">How it ended.</param>
    public void End(ItemOutcome outcome)
    {
        InFlight--;
        switch (outcome)
        {
            case ItemOutcome.Succeeded:
                Succeeded++;
                break;
            case ItemOutcome.Failed:
                Failed++;
                break;
            default:
                Cancelled++;
                break;
        }
    }

    /// <summary>Ends a queued item that will not run (evicted, cancelled while queued, or cut by the drain timeout).</summary>
    /// <param name="reason">Why.</param>
    public void EndQueued(DropReason reason)
    {
        Queued--;
        CountDrop(reason);
    }

    /// <summary>Ends an item in flight as dropped (a running item cut by a passed drain timeout, for example).</summary>
    /// <param name="reason">Why it did not run to an outcome of its own.</param>
    public void EndInFlight(DropReason reason)
    {
        InFlight--;
        CountDrop(reason);
    }

    /// <summary>Counts an end of an item by its drop reason (the caller has already taken it out of the queue or flight).</summary>
    /// <param name="reason">Why it did not run to an outcome of its own.</param>
    public void CountDrop(DropReason reason)
    {
        switch (reason)
        {
            case DropReason.Rejected:
                Rejected++;
                break;
            case DropReason.Cancelled:
                Cancelled++;
                break;
            default:
                Dropped++;
                break;
        }
    }

    /// <summary>Adds one to a counter from outside the owner's lock.</summary>
    /// <param name="counter">One of this ledger's fields.</param>
    public static void IncrementAtomic(ref long counter) => Interlocked.Increment(ref counter);

    /// <summary>Subtracts one from a counter from outside the owner's lock.</summary>
    /// <param name="counter">One of this ledger's fields.</param>
    public static void DecrementAtomic(ref long counter) => Interlocked.Decrement(ref counter);

    /// <summary>Reads the counters.</summary>
    /// <returns>The snapshot.</returns>
    public LedgerSnapshot Snapshot() => new()
    {
        Submitted = Volatile.Read(ref Submitted),
        Succeeded = Volatile.Read(ref Succeeded),
        Failed = Volatile.Read(ref Failed),
        Cancelled = Volatile.Read(ref Cancelled),
        Dropped = Volatile.Read(ref Dropped),
        Rejected = Volatile.Read(ref Rejected),
        InFlight = Volatile.Read(ref InFlight),
        Queued = Volatile.Read(ref Queued),
    };

    /// <summary>Asserts the ledger's invariant; call under the owner's lock when no counter is updated atomically.</summary>
    [System.Diagnostics.Conditional("DEBUG")]
    public void AssertBalanced()
    {
        System.Diagnostics.Debug.Assert(InFlight >= 0 && Queued >= 0, $"Negative gauge: in flight {InFlight}, queued {Queued}.");
        System.Diagnostics.Debug.Assert(Snapshot().IsBalanced, $"Unbalanced ledger: {Snapshot()}.");
    }
}
