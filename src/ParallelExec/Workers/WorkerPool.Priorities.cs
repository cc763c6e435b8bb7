using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// Priorities: with <see cref="WorkerPoolOptions.PriorityLanes"/> above 1, a submission may name a lane
/// (0 = the default and lowest, up to <c>PriorityLanes - 1</c>). Lane 0 is the ordinary queue (the ring); each higher
/// lane is a list of nodes. A worker takes from the highest non-empty lane, except that a waiting lower lane that has
/// been passed over <see cref="WorkerPoolOptions.StarvationLimit"/> times is served next (the lowest such lane first).
/// </summary>
/// <remarks>
/// <para><b>Bound.</b> While a lane has items, at most <c>StarvationLimit</c> items of higher lanes start before its
/// head does, plus one for each lower lane that reached the limit at the same time: at most
/// <c>StarvationLimit + PriorityLanes - 2</c>.</para>
/// <para><b>No cost when unused.</b> Items of lane 0 never touch this file: enqueueing checks one byte of the node, and
/// taking checks <see cref="_laneQueued"/> once. While any lane above 0 holds items, they count as unclaimable, so the
/// workers take one item at a time and every take goes through the lane choice.</para>
/// <para><b>Full modes.</b> The capacity is shared by all lanes. <see cref="QueueFullMode.DropOldest"/> and
/// <see cref="QueueFullMode.DropNewest"/> evict from the lowest non-empty lane; <see cref="QueueFullMode.Reject"/> and
/// <see cref="QueueFullMode.Wait"/> apply to every lane alike (waiting submitters are admitted in arrival order, each
/// into its own lane).</para>
/// </remarks>
public sealed partial class WorkerPool
{
    // Lanes 1..PriorityLanes-1 (index 0 unused: lane 0 is the ring); null when priorities are off.
    private readonly WaitList<WorkItem>[]? _lanes;
    private readonly LaneCounters[]? _laneCounters;

    // How many times each lane was passed over by a take from a higher lane while it held items (index 0: the ring).
    private readonly int[]? _passedOver;
    private readonly int _starvationLimit;

    // Items queued in lanes above 0 (they are also counted in _queued and _unclaimableQueued).
    private int _laneQueued;

    /// <summary>Gets the number of priority lanes (<see cref="WorkerPoolOptions.PriorityLanes"/>).</summary>
    public int PriorityLanes => _lanes?.Length ?? 1;

    /// <summary>Runs <paramref name="work"/> on a worker from priority lane <paramref name="priority"/> and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <param name="priority">The lane, 0 (lowest, the default) to <see cref="PriorityLanes"/> - 1; higher lanes are taken first.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>The work's result; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is not a lane of this pool.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public ValueTask<T> RunAsync<T>(Func<CancellationToken, ValueTask<T>> work, int priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lane = CheckLane(priority);
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        var item = AwaitedWorkItem<T>.Rent(this, null, work, null);
        item.Lane = lane;
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask<T>(item, version);
    }

    /// <summary>Runs <paramref name="work"/> from priority lane <paramref name="priority"/>; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, int, CancellationToken)"/>.</summary>
    /// <param name="work">The work.</param>
    /// <param name="priority">The lane.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>A task that completes when the work has run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is not a lane of this pool.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public ValueTask RunAsync(Func<CancellationToken, ValueTask> work, int priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lane = CheckLane(priority);
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var item = AwaitedWorkItem<VoidResult>.Rent(this, null, null, work);
        item.Lane = lane;
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask(item, version);
    }

    /// <summary>Posts fire-and-forget work to priority lane <paramref name="priority"/> without waiting; see <see cref="TryPost(Func{CancellationToken, ValueTask})"/>.</summary>
    /// <param name="work">The work.</param>
    /// <param name="priority">The lane.</param>
    /// <returns>What happened to the item.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is not a lane of this pool.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public PostResult TryPost(Func<CancellationToken, ValueTask> work, int priority)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lane = CheckLane(priority);
        if (lane == 0)
        {
            return TryPost(work);
        }

        ThrowIfNotOpen();
        WorkItem? item = PostedWorkItem.Rent(this, null, work);
        item.Lane = lane;
        return Admit(ref item, canWait: false, default, out _) switch
        {
            AdmissionResult.Full => RecycleAndReturn((PostedWorkItem)item!, PostResult.QueueFull),
            AdmissionResult.Rejected => PostResult.Rejected,
            AdmissionResult.QueuedAfterDrop => PostResult.AcceptedAfterDrop,
            _ => PostResult.Accepted,
        };
    }

    /// <summary>Posts fire-and-forget work to priority lane <paramref name="priority"/>, waiting for room; see <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>.</summary>
    /// <param name="work">The work.</param>
    /// <param name="priority">The lane.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>What happened to the item.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="priority"/> is not a lane of this pool.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting (through the returned task).</exception>
    public ValueTask<PostResult> PostAsync(Func<CancellationToken, ValueTask> work, int priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var lane = CheckLane(priority);
        if (lane == 0)
        {
            return PostAsync(work, cancellationToken);
        }

        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PostResult>(cancellationToken);
        }

        WorkItem? item = PostedWorkItem.Rent(this, null, work);
        item.Lane = lane;
        return Admit(ref item, canWait: true, cancellationToken, out var waiter) switch
        {
            AdmissionResult.Waiting => waiter!.Task,
            AdmissionResult.Rejected => new ValueTask<PostResult>(PostResult.Rejected),
            AdmissionResult.QueuedAfterDrop => new ValueTask<PostResult>(PostResult.AcceptedAfterDrop),
            AdmissionResult.Cancelled => ValueTask.FromCanceled<PostResult>(cancellationToken),
            AdmissionResult.RanInline => AwaitInline(item!),
            _ => new ValueTask<PostResult>(PostResult.Accepted),
        };
    }

    private byte CheckLane(int priority)
    {
        if ((uint)priority >= (uint)PriorityLanes)
        {
            throw new ArgumentOutOfRangeException(nameof(priority), priority,
                $"The priority must be a lane of the pool '{Name}': 0 to {PriorityLanes - 1} (set WorkerPoolOptions.PriorityLanes for more).");
        }

        return (byte)priority;
    }

    /// <summary>Counts a submission to a lane above 0, and how it was admitted (called under the lock).</summary>
    private void CountLaneAdmissionLocked(WorkItem item, AdmissionResult admission)
    {
        if (item.Lane == 0 || _laneCounters is null)
        {
            return;
        }

        ref var counters = ref _laneCounters[item.Lane];
        switch (admission)
        {
            case AdmissionResult.Started:
            case AdmissionResult.RanInline:
                counters.Submitted++;
                counters.Started++;
                break;
            case AdmissionResult.Rejected:
                counters.Submitted++;
                counters.Dropped++;
                break;
            case AdmissionResult.Queued:
            case AdmissionResult.QueuedAfterDrop:
            case AdmissionResult.Waiting:
                counters.Submitted++;
                break;
        }
    }

    /// <summary>Queues a node of a lane above 0.</summary>
    private void EnqueueLaneLocked(WorkItem item)
    {
        _lanes![item.Lane].AddLast(item);
        _laneQueued++;
        _queued++;
        _unclaimableQueued++;
        if (item.Key is not null)
        {
            _keyedQueued++;
        }

        if (_queued > _peakQueued)
        {
            _peakQueued = _queued;
        }
    }

    /// <summary>Takes a node out of its lane (started, cancelled or evicted).</summary>
    private void RemoveFromLaneLocked(WorkItem item)
    {
        _lanes![item.Lane].Remove(item);
        _laneQueued--;
        _queued--;
        _unclaimableQueued--;
        if (item.Key is not null)
        {
            _keyedQueued--;
        }
    }

    /// <summary>
    /// Takes the next runnable entry by priority: the highest non-empty lane, unless a lower lane has been passed over
    /// <see cref="_starvationLimit"/> times (the lowest such lane then goes first). A lane whose items are all held by
    /// busy keys is skipped for a lower one.
    /// </summary>
    private object? TakeByPriorityLocked()
    {
        var lanes = _lanes!;
        var ringHasEntries = _queued > _laneQueued;
        var top = lanes.Length - 1;
        while (top > 0 && lanes[top].Count == 0)
        {
            top--;
        }

        var chosen = top;
        for (var lane = 0; lane < top; lane++)
        {
            if (LaneHasEntries(lane, ringHasEntries) && _passedOver![lane] >= _starvationLimit)
            {
                chosen = lane;
                break;
            }
        }

        // Try the chosen lane, then the others from the highest down.
        var entry = TakeFromLaneLocked(chosen);
        for (var lane = top; entry is null && lane >= 0; lane--)
        {
            if (lane != chosen)
            {
                entry = TakeFromLaneLocked(lane);
                chosen = lane;
            }
        }

        if (entry is null)
        {
            return null;
        }

        _passedOver![chosen] = 0;
        for (var lane = 0; lane < chosen; lane++)
        {
            if (LaneHasEntries(lane, _queued > _laneQueued))
            {
                _passedOver[lane]++;
            }
        }

        return entry;
    }

    private bool LaneHasEntries(int lane, bool ringHasEntries) => lane == 0 ? ringHasEntries : _lanes![lane].Count > 0;

    private object? TakeFromLaneLocked(int lane)
    {
        if (lane == 0)
        {
            return _queued > _laneQueued ? TakeFirstRunnableFromRingLocked() : null;
        }

        for (var node = _lanes![lane].First; node is not null; node = node.Next)
        {
            if (IsRunnableLocked(node))
            {
                RemoveFromLaneLocked(node);
                _laneCounters![lane].Started++;
                return node;
            }
        }

        return null;
    }

    /// <summary>Evicts for a full queue: from the ring when it holds entries (lane 0 is the lowest), else from the lowest non-empty lane.</summary>
    private object EvictLocked(Admission decision)
    {
        if (_laneQueued == 0 || _queued > _laneQueued)
        {
            return decision == Admission.EvictOldest ? TakeHeadLocked() : TakeTailLocked();
        }

        var lanes = _lanes!;
        for (var lane = 1; lane < lanes.Length; lane++)
        {
            if ((decision == Admission.EvictOldest ? lanes[lane].First : lanes[lane].Last) is { } victim)
            {
                RemoveFromLaneLocked(victim);
                _laneCounters![lane].Dropped++;
                return victim;
            }
        }

        throw new UnreachableException("A full queue holds at least one entry.");
    }

    /// <summary>Empties every lane above 0 (the drain timeout passed) into <paramref name="entries"/>.</summary>
    private void TakeAllLanesLocked(List<object> entries)
    {
        if (_lanes is null)
        {
            return;
        }

        for (var lane = 1; lane < _lanes.Length; lane++)
        {
            while (_lanes[lane].RemoveFirst() is { } item)
            {
                entries.Add(item);
                _laneCounters![lane].Dropped++;
            }
        }

        _laneQueued = 0;
    }

    /// <summary>Reads the per-lane counts (under the lock); lane 0 is what the pool's ledger holds besides the others.</summary>
    private IReadOnlyList<PriorityLaneCounts> ReadLanesLocked(LedgerSnapshot ledger)
    {
        if (_lanes is null)
        {
            return [];
        }

        var lanes = new PriorityLaneCounts[_lanes.Length];
        long submitted = 0, dropped = 0;
        for (var lane = 1; lane < _lanes.Length; lane++)
        {
            var counters = _laneCounters![lane];
            lanes[lane] = new PriorityLaneCounts(lane, counters.Submitted, _lanes[lane].Count, counters.Started, counters.Dropped);
            submitted += counters.Submitted;
            dropped += counters.Dropped;
        }

        // Lane 0 is the rest of the pool's ledger. Its items cancelled while queued are not told apart from started ones.
        long waitingInLanes = 0;
        for (var lane = 1; lane < lanes.Length; lane++)
        {
            waitingInLanes += lanes[lane].Submitted - lanes[lane].Queued - lanes[lane].Started - lanes[lane].Dropped;
        }

        var submitted0 = ledger.Submitted - submitted;
        var queued0 = _queued + _claimed - _laneQueued;
        var dropped0 = ledger.Dropped + ledger.Rejected - dropped;
        var waiting0 = _waiters.Count - waitingInLanes;
        lanes[0] = new PriorityLaneCounts(0, submitted0, queued0, submitted0 - queued0 - dropped0 - waiting0, dropped0);
        return lanes;
    }

    private struct LaneCounters
    {
        public long Submitted;
        public long Started;
        public long Dropped;
    }
}
