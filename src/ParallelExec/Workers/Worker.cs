using System.Threading.Tasks.Sources;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// One worker of a <see cref="WorkerPool"/>: its idle signal (a reusable value-task source the pool completes with the
/// next item, or with <see langword="null"/> to retire it), the item it runs now, its node for plain posted delegates,
/// and the items it claimed from a deep queue to run without taking the pool's lock (see <c>WorkerPool.Claims.cs</c>).
/// </summary>
internal sealed class Worker : IValueTaskSource<WorkItem?>
{
    // Asynchronous continuations: the thread that hands over work (a producer, another worker) must never end up running
    // this worker's loop, and so the user's work, inline.
    private ManualResetValueTaskSourceCore<WorkItem?> _signal = new() { RunContinuationsAsynchronously = true };

    // Odd while the worker updates the claim counters outside the pool lock; GetStatistics retries until it reads an
    // even, unchanged value, so a snapshot never counts an item twice or not at all.
    private int _countersVersion;

    private readonly WorkerPool _pool;
    private PlainWorkItem? _plain;

    internal Worker(WorkerPool pool) => _pool = pool;

    /// <summary>The item this worker runs now; read under the pool lock by the drain timeout.</summary>
    internal WorkItem? Current;

    /// <summary>
    /// How many items this worker has started. With <see cref="Current"/> it names one run: the worker's node for plain
    /// posted delegates runs many of them, so the node alone does not tell one run from the next.
    /// </summary>
    internal long Starts;

    /// <summary>Claimed queue entries (nodes or plain delegates), in queue order; [ClaimNext, ClaimEnd) have not started.</summary>
    /// <remarks>Created with the first claim: a pool whose workers never claim (work that waits) does not pay for it.</remarks>
    internal object?[]? Claims;

    /// <summary>The next claimed entry to start.</summary>
    internal int ClaimNext;

    /// <summary>The end of the claimed entries.</summary>
    internal int ClaimEnd;

    /// <summary>How many claimed entries have not started yet (they count as queued in the statistics).</summary>
    internal int ClaimedWaiting;

    /// <summary>How many entries this claim took from the queue in all (they count against the queue's capacity).</summary>
    internal int ClaimedTotal;

    /// <summary>Claimed items that ended, by outcome, not yet added to the pool's counters.</summary>
    internal int ClaimedSucceeded;

    /// <inheritdoc cref="ClaimedSucceeded"/>
    internal int ClaimedFailed;

    /// <inheritdoc cref="ClaimedSucceeded"/>
    internal int ClaimedCancelled;

    /// <summary>Posted nodes of claimed items that ended, to go back to the pool's free list with the next fold.</summary>
    internal PostedWorkItem? FreedPosted;

    /// <summary>How many nodes <see cref="FreedPosted"/> holds.</summary>
    internal int FreedPostedCount;

    /// <summary>
    /// The item handed to this worker while it lingered (see <c>WorkerPool.Linger.cs</c>); written under the pool lock,
    /// read by the worker.
    /// </summary>
    internal WorkItem? HandedOff;

    /// <summary>Whether claimed entries remain to start.</summary>
    internal bool HasClaims => ClaimNext < ClaimEnd;

    /// <summary>Prepares the signal before the worker is pushed on the idle stack (under the pool lock).</summary>
    internal void PrepareToWait() => _signal.Reset();

    internal ValueTask<WorkItem?> WaitAsync() => new(this, _signal.Version);

    internal void Signal(WorkItem? item) => _signal.SetResult(item);

    /// <summary>Turns a queue entry into the node to run: itself, or this worker's node for plain delegates, armed with it.</summary>
    internal WorkItem Arm(object entry)
    {
        if (entry is WorkItem item)
        {
            return item;
        }

        // The node for plain posted delegates (one at a time), created with the first: only this worker's owner of the
        // moment (the pool under its lock, or the worker itself for its claims) arms it.
        var plain = _plain ??= new PlainWorkItem(_pool);
        plain.Arm((Func<CancellationToken, ValueTask>)entry);
        return plain;
    }

    /// <summary>
    /// Records the outcome of the claimed item that ended and makes the next claimed entry <see cref="Current"/>, outside
    /// the pool lock (only this worker changes its claim state; the pool lock is held for folds and snapshots).
    /// </summary>
    internal WorkItem StartNextClaimed(ItemOutcome finishedOutcome)
    {
        var entry = Claims![ClaimNext]!;
        Claims[ClaimNext++] = null;
        var item = Arm(entry);
        item.State = WorkItemState.Running;

        // A full fence: the counter writes below must not become visible before the odd version.
        Interlocked.Increment(ref _countersVersion);
        ClaimedWaiting--;
        switch (finishedOutcome)
        {
            case ItemOutcome.Succeeded:
                ClaimedSucceeded++;
                break;
            case ItemOutcome.Failed:
                ClaimedFailed++;
                break;
            default:
                ClaimedCancelled++;
                break;
        }

        Current = item;
        Starts++;
        Volatile.Write(ref _countersVersion, _countersVersion + 1);
        return item;
    }

    /// <summary>Reads the claim counters as one consistent set (called under the pool lock).</summary>
    internal (int Waiting, int Succeeded, int Failed, int Cancelled) ReadClaimCounters()
    {
        var spinner = default(SpinWait);
        while (true)
        {
            var version = Volatile.Read(ref _countersVersion);
            if ((version & 1) == 0)
            {
                var counters = (Volatile.Read(ref ClaimedWaiting), Volatile.Read(ref ClaimedSucceeded),
                    Volatile.Read(ref ClaimedFailed), Volatile.Read(ref ClaimedCancelled));
                if (Volatile.Read(ref _countersVersion) == version)
                {
                    return counters;
                }
            }

            spinner.SpinOnce();
        }
    }

    public WorkItem? GetResult(short token) => _signal.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _signal.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
