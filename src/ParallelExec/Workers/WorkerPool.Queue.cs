using System.Diagnostics;

namespace ParallelExec.Workers;

/// <summary>
/// The queue: a growable ring of entries in submission order. An entry is a <see cref="WorkItem"/> node, or the bare
/// delegate of a plain post (no key, no cancellable token; see <see cref="PlainWorkItem"/>). Enqueueing and taking the
/// head write one array slot and touch no node, so the time the lock is held does not depend on which core last wrote
/// the node. A node removed from the middle (cancelled, evicted, or runnable behind a busy key) leaves an empty slot,
/// found in O(1) through <see cref="WorkItem.QueueSeq"/>; empty slots at either end are trimmed at once, and the ring
/// compacts instead of growing when most of it is empty.
/// </summary>
public sealed partial class WorkerPool
{
    private const int InitialRingSize = 16;

    private object?[] _ring = new object?[InitialRingSize];

    // The slot of the first entry, the slots in use from there (entries and the empty slots between them), and the
    // sequence number of the first slot: an entry's sequence number minus this is its distance from the head.
    private int _ringHead;
    private int _ringCount;
    private long _ringHeadSeq;

    // Entries in the ring (the empty slots not counted), and the keyed nodes among them.
    private int _queued;
    private int _keyedQueued;

    // Queued nodes with a key or a cancellable token: while there are none, every queued entry can be claimed.
    private int _unclaimableQueued;

    private int RingMask => _ring.Length - 1;

    /// <summary>Appends a node (state, counters, metrics timestamp).</summary>
    private void EnqueueLocked(WorkItem item)
    {
        item.State = WorkItemState.Queued;
        if (item.Lane != 0)
        {
            EnqueueLaneLocked(item);
            if (_waitDuration.Enabled)
            {
                item.StartTimestamp = _timeProvider.GetTimestamp();
            }

            return;
        }

        item.QueueSeq = AppendLocked(item);
        if (item.Key is not null)
        {
            _keyedQueued++;
            _unclaimableQueued++;
        }
        else if (item.HasCallerToken)
        {
            _unclaimableQueued++;
        }

        if (_waitDuration.Enabled)
        {
            item.StartTimestamp = _timeProvider.GetTimestamp();
        }
    }

    /// <summary>Appends an entry and returns its sequence number.</summary>
    private long AppendLocked(object entry)
    {
        if (_ringCount == _ring.Length)
        {
            ResizeRingLocked();
        }

        _ring[(_ringHead + _ringCount) & RingMask] = entry;
        var seq = _ringHeadSeq + _ringCount;
        _ringCount++;
        _queued++;
        if (_queued > _peakQueued)
        {
            _peakQueued = _queued;
        }

        return seq;
    }

    /// <summary>Removes and returns the first entry (the queue is not empty).</summary>
    private object TakeHeadLocked()
    {
        Debug.Assert(_queued > 0, "The queue is not empty.");
        var entry = _ring[_ringHead]!;
        _ring[_ringHead] = null;
        AdvanceHeadLocked();
        _queued--;
        if (entry is WorkItem item)
        {
            ForgetNodeLocked(item);
        }

        TrimRingLocked();
        return entry;
    }

    /// <summary>Removes and returns the last entry (the queue is not empty).</summary>
    private object TakeTailLocked()
    {
        Debug.Assert(_queued > 0, "The queue is not empty.");
        var slot = (_ringHead + _ringCount - 1) & RingMask;
        var entry = _ring[slot]!;
        _ring[slot] = null;
        _ringCount--;
        _queued--;
        if (entry is WorkItem item)
        {
            ForgetNodeLocked(item);
        }

        TrimRingLocked();
        return entry;
    }

    /// <summary>Removes a queued node from wherever it is.</summary>
    private void RemoveQueuedLocked(WorkItem item)
    {
        if (item.Lane != 0)
        {
            RemoveFromLaneLocked(item);
            _laneCounters![item.Lane].Dropped++;
            return;
        }

        var slot = (int)((_ringHead + (item.QueueSeq - _ringHeadSeq)) & RingMask);
        Debug.Assert(ReferenceEquals(_ring[slot], item), "A queued node is where its sequence number says.");
        _ring[slot] = null;
        _queued--;
        ForgetNodeLocked(item);
        TrimRingLocked();
    }

    /// <summary>
    /// Takes the first runnable entry: the head when no queued node has a key, else the first entry whose key is free.
    /// Returns <see langword="null"/> when nothing is runnable, and once the drain timeout has passed: what is still
    /// queued then is the drain-timeout cut's to drop, never a worker's to start.
    /// </summary>
    private object? TakeFirstRunnableLocked()
    {
        if (_queued == 0 || _drainTimedOut)
        {
            return null;
        }

        return _laneQueued == 0 ? TakeFirstRunnableFromRingLocked() : TakeByPriorityLocked();
    }

    /// <summary>Takes the first runnable entry of the ring (lane 0); see <see cref="TakeFirstRunnableLocked"/>.</summary>
    private object? TakeFirstRunnableFromRingLocked()
    {
        if (_keyedQueued == 0)
        {
            return TakeHeadLocked();
        }

        for (var offset = 0; offset < _ringCount; offset++)
        {
            var entry = _ring[(_ringHead + offset) & RingMask];
            if (entry is null || !IsRunnableLocked(entry))
            {
                continue;
            }

            if (offset == 0)
            {
                return TakeHeadLocked();
            }

            _ring[(_ringHead + offset) & RingMask] = null;
            _queued--;
            if (entry is WorkItem item)
            {
                ForgetNodeLocked(item);
            }

            TrimRingLocked();
            return entry;
        }

        return null;
    }

    /// <summary>
    /// Moves up to <paramref name="count"/> entries from the head into <paramref name="claims"/> without looking at them
    /// (the caller has checked that none has a key or a token); returns how many it moved.
    /// </summary>
    private int TakeClaimableLocked(object?[] claims, int count)
    {
        Debug.Assert(_unclaimableQueued == 0, "Every queued entry can be claimed.");
        var taken = 0;
        while (taken < count && _queued > 0)
        {
            var entry = _ring[_ringHead];
            _ring[_ringHead] = null;
            AdvanceHeadLocked();
            if (entry is not null)
            {
                claims[taken++] = entry;
                _queued--;
            }
        }

        TrimRingLocked();
        return taken;
    }

    /// <summary>Puts claimed entries back in front of the head, keeping their order.</summary>
    private void RequeueAtHeadLocked(object?[] entries, int start, int end)
    {
        for (var i = end - 1; i >= start; i--)
        {
            var entry = entries[i]!;
            entries[i] = null;
            if (_ringCount == _ring.Length)
            {
                ResizeRingLocked();
            }

            _ringHead = (_ringHead - 1) & RingMask;
            _ringHeadSeq--;
            _ringCount++;
            _ring[_ringHead] = entry;

            // Counted one by one: a resize on the next round sizes the ring by the entries it holds.
            _queued++;
            if (entry is WorkItem item)
            {
                item.State = WorkItemState.Queued;
                item.QueueSeq = _ringHeadSeq;
            }
        }

        // Moved from claimed to queued: the total against the capacity, and so the peak, does not change.
    }

    /// <summary>Empties the queue (the drain timeout passed), returning its entries in order.</summary>
    private List<object> TakeAllLocked()
    {
        var entries = new List<object>(_queued);
        for (var offset = 0; offset < _ringCount; offset++)
        {
            var slot = (_ringHead + offset) & RingMask;
            if (_ring[slot] is { } entry)
            {
                entries.Add(entry);
                _ring[slot] = null;
            }
        }

        _ringHeadSeq += _ringCount;
        _ringHead = 0;
        _ringCount = 0;
        TakeAllLanesLocked(entries);
        _queued = 0;
        _keyedQueued = 0;
        _unclaimableQueued = 0;
        return entries;
    }

    private void ForgetNodeLocked(WorkItem item)
    {
        if (item.Key is not null)
        {
            _keyedQueued--;
            _unclaimableQueued--;
        }
        else if (item.HasCallerToken)
        {
            _unclaimableQueued--;
        }
    }

    private void AdvanceHeadLocked()
    {
        _ringHead = (_ringHead + 1) & RingMask;
        _ringHeadSeq++;
        _ringCount--;
    }

    /// <summary>Drops empty slots at both ends, so the head and the tail slot always hold an entry.</summary>
    private void TrimRingLocked()
    {
        while (_ringCount > 0 && _ring[_ringHead] is null)
        {
            AdvanceHeadLocked();
        }

        while (_ringCount > 0 && _ring[(_ringHead + _ringCount - 1) & RingMask] is null)
        {
            _ringCount--;
        }
    }

    /// <summary>
    /// The ring is full: copies the entries, in order and without the empty slots, into a ring twice the size (or the
    /// same size, when at most half of it held entries), renumbering the nodes.
    /// </summary>
    private void ResizeRingLocked()
    {
        var size = _queued > _ring.Length / 2 ? _ring.Length * 2 : _ring.Length;
        var ring = new object?[size];
        var count = 0;
        for (var offset = 0; offset < _ringCount; offset++)
        {
            if (_ring[(_ringHead + offset) & RingMask] is { } entry)
            {
                ring[count] = entry;
                if (entry is WorkItem item)
                {
                    item.QueueSeq = _ringHeadSeq + count;
                }

                count++;
            }
        }

        _ring = ring;
        _ringHead = 0;
        _ringCount = count;
    }
}
