using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

// Appends without the lock (BatchProcessor.Appends.cs): while the open batch is armed, a submitter takes a slot with one
// Interlocked.Increment, writes it, and publishes it with a flag; the lock holder that settles the batch closes it to
// such appends and waits for every taken slot's flag before it counts the slots as its own.
internal sealed partial class PendingBatch<TItem, TResult>
{
    // Flags are written on every append while the handler worker reads whatever the allocator put next to them (often
    // the next batch's fields): the flags sit FlagPadding ints in from both ends of their array, off those lines.
    private const int FlagPadding = 16;

    // One flag per slot: set by the submitter once the slot is written, cleared by SettleAppends.
    private readonly int[] _published;

    // The armed range's end (high 32 bits) and the next slot an append takes (low 32 bits), in one value so that the
    // increment that takes a slot also reads the end it was taken against: a taker delayed across a settle, a reuse of
    // the batch and a new arming with another end can never mistake its slot for one of the new range. Zero (no end)
    // while the batch is not armed; takers that read it then only raise the low half. Incremented on every append, so
    // alone on its cache line: the worker writes this object's outcome counts while it handles the batch.
    private PaddedCounter _slots;

    // Where the armed range starts (appends take slots [_armedFrom, end)); read and written under the lock.
    private int _armedFrom;

    /// <summary>Gets whether submitters may append to the batch without the lock. Read under the lock.</summary>
    public bool IsArmed => (_slots.Value >> 32) != 0;

    /// <summary>
    /// Opens slots <see cref="Count"/> up to <paramref name="limit"/> (exclusive) to appends without the lock. Under the
    /// lock, on the open batch only: until <see cref="SettleAppends"/>, nobody else may add or remove slots.
    /// </summary>
    public void ArmAppends(int limit)
    {
        Debug.Assert(!IsArmed && Count < limit && limit <= Items.Length, $"Arming {Count}..{limit} of {Items.Length}.");
        _armedFrom = Count;
        Volatile.Write(ref _slots.Value, ((long)limit << 32) | (uint)Count);
    }

    /// <summary>
    /// Takes a slot for an append, or returns -1 when the batch is not armed or its armed slots are taken. Without the
    /// lock. A slot taken must be published with <see cref="Publish"/>, promptly: the lock holder waits for it.
    /// </summary>
    /// <param name="last">Whether the slot is the last of the armed range (its taker seals the batch).</param>
    public int TryTakeSlot(out bool last)
    {
        last = false;
        if ((Volatile.Read(ref _slots.Value) >> 32) == 0)
        {
            return -1;
        }

        var slots = Interlocked.Increment(ref _slots.Value);
        var index = (int)(uint)slots - 1;
        var limit = (int)(slots >> 32);
        if (index >= limit)
        {
            return -1;
        }

        last = index == limit - 1;
        return index;
    }

    /// <summary>Writes a taken slot and publishes it. Without the lock; <see cref="OpenedAt"/> must be written before, when it is the first.</summary>
    public void Publish(int index, TItem item, BatchItemSource<TItem, TResult>? caller)
    {
        Items[index] = item;
        if (caller is null)
        {
            Posts[index] = 1;
        }
        else
        {
            caller.Batch = this;
            Callers[index] = caller;
        }

        Volatile.Write(ref _published[FlagPadding + index], 1);
    }

    /// <summary>
    /// Closes the batch to appends and takes the published slots in as if they had been added under the lock. Under the
    /// lock. Returns how many slots it took in (each one submission). Waits for slots taken but not yet published: their
    /// takers are between two plain writes, so the wait is short unless a taker's thread was preempted.
    /// </summary>
    public int SettleAppends()
    {
        if (!IsArmed)
        {
            return 0;
        }

        var slots = Interlocked.Exchange(ref _slots.Value, 0);
        var end = Math.Min((int)(uint)slots, (int)(slots >> 32));
        Debug.Assert(Count == _armedFrom, $"The batch changed under the lock while armed ({_armedFrom} -> {Count}).");
        var spinner = default(SpinWait);
        for (var i = _armedFrom; i < end; i++)
        {
            while (Volatile.Read(ref _published[FlagPadding + i]) == 0)
            {
                spinner.SpinOnce();
            }

            _published[FlagPadding + i] = 0;
        }

        var added = end - _armedFrom;
        Count = end;
        Submissions += added;
        return added;
    }
}
