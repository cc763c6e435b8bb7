using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ParallelExec.Batching;

/// <summary>
/// One batch: parallel arrays of slots (the item, the chain of awaiting callers, the count of fire-and-forget posts),
/// pooled and reused by its processor. It is also the thread-pool work item that starts a handler worker, so
/// dispatching a batch allocates nothing.
/// </summary>
/// <remarks>
/// Every field is read and written under the processor's lock until <see cref="Started"/> is set (under the lock);
/// after that only the worker that started it touches it, without the lock, until it returns it to the pool. The
/// outcome counts (<see cref="SucceededCount"/>, <see cref="FailedCount"/>, <see cref="CutCount"/>) are written by that
/// worker and moved into the processor's ledger under the lock when the batch ends.
/// </remarks>
internal sealed partial class PendingBatch<TItem, TResult> : IThreadPoolWorkItem
    where TItem : notnull
{
    private readonly BatchProcessor<TItem, TResult> _owner;

    // The submitters' trace contexts per slot; allocated only while someone listens (see AddLink).
    private List<ActivityContext>?[]? _links;

    public PendingBatch(BatchProcessor<TItem, TResult> owner, int capacity, IEqualityComparer<TItem>? coalesceComparer, bool coalesce)
    {
        _owner = owner;
        Items = new TItem[capacity];
        Callers = new BatchItemSource<TItem, TResult>?[capacity];
        Posts = new int[capacity];
        _published = new int[capacity + (2 * FlagPadding)];
        if (coalesce)
        {
            SlotByItem = new Dictionary<TItem, int>(capacity, coalesceComparer);
        }
    }

    public TItem[] Items { get; }

    /// <summary>The head of the chain of awaiting callers of each slot (null when only posts or nobody).</summary>
    public BatchItemSource<TItem, TResult>?[] Callers { get; }

    /// <summary>How many fire-and-forget submissions share each slot.</summary>
    public int[] Posts { get; }

    /// <summary>The slot index of each item, for coalescing; null when coalescing is off.</summary>
    public Dictionary<TItem, int>? SlotByItem { get; }

    public int Count { get; set; }

    /// <summary>How many submissions the slots hold (awaiting callers plus posts): what the ledger counts.</summary>
    public int Submissions { get; set; }

    /// <summary>Submissions that got their result; set by the worker.</summary>
    public int SucceededCount { get; set; }

    /// <summary>Submissions that got an exception from the handler (or a missing key); set by the worker.</summary>
    public int FailedCount { get; set; }

    /// <summary>Submissions whose handler call the drain timeout cancelled; set by the worker.</summary>
    public int CutCount { get; set; }

    public long OpenedAt { get; set; }

    public long Sequence { get; set; }

    public BatchFlushReason Reason { get; set; }

    public bool Started { get; set; }

    /// <summary>How long the batch took to handle (all its handler calls); set by the worker.</summary>
    public TimeSpan Latency { get; set; }

    public void Add(TItem item, BatchItemSource<TItem, TResult>? caller)
    {
        var index = Count++;
        Items[index] = item;
        Callers[index] = caller;
        Posts[index] = caller is null ? 1 : 0;
        SlotByItem?.Add(item, index);
        Submissions++;
    }

    /// <summary>
    /// Remembers a submitter's trace context for the links of the slot's handler-call span. Called only when someone
    /// listens to the library's activity source, so a batch without listeners never allocates the lists.
    /// </summary>
    public void AddLink(int index, ActivityContext context)
    {
        var links = _links ??= new List<ActivityContext>?[Items.Length];
        (links[index] ??= []).Add(context);
    }

    /// <summary>Gets links to the submitters of the slots in a range, or null when none was captured.</summary>
    public List<ActivityLink>? LinksFor(int offset, int count)
    {
        if (_links is not { } links)
        {
            return null;
        }

        List<ActivityLink>? result = null;
        for (var i = offset; i < offset + count; i++)
        {
            if (links[i] is { } contexts)
            {
                result ??= [];
                foreach (var context in contexts)
                {
                    result.Add(new ActivityLink(context));
                }
            }
        }

        return result;
    }

    /// <summary>Marks a started batch's slot as ended (every submission of it has its outcome), so that a failure around
    /// the handler ends only the slots that have none (<see cref="IsEnded"/>). The item stays for reporting.</summary>
    public void EndSlot(int index)
    {
        Callers[index] = null;
        Posts[index] = 0;
    }

    /// <summary>Whether a started batch's slot has no submission left without an outcome.</summary>
    public bool IsEnded(int index) => Callers[index] is null && Posts[index] == 0;

    /// <summary>Counts the submissions sharing a slot (awaiting callers plus posts).</summary>
    public int SubmissionsAt(int index)
    {
        var submissions = Posts[index];
        for (var caller = Callers[index]; caller is not null; caller = caller.Next)
        {
            submissions++;
        }

        return submissions;
    }

    /// <summary>Removes a slot, keeping the order of the others (and the coalescing index in step).</summary>
    public void RemoveAt(int index)
    {
        Submissions -= SubmissionsAt(index);
        SlotByItem?.Remove(Items[index]);
        var last = Count - 1;
        if (index < last)
        {
            Array.Copy(Items, index + 1, Items, index, last - index);
            Array.Copy(Callers, index + 1, Callers, index, last - index);
            Array.Copy(Posts, index + 1, Posts, index, last - index);
            if (_links is not null)
            {
                Array.Copy(_links, index + 1, _links, index, last - index);
            }

            if (SlotByItem is not null)
            {
                for (var i = index; i < last; i++)
                {
                    SlotByItem[Items[i]] = i;
                }
            }
        }

        ClearSlot(last);
        Count = last;
    }

    /// <summary>Finds the slot whose caller chain holds <paramref name="caller"/>, or -1.</summary>
    public int IndexOfCaller(BatchItemSource<TItem, TResult> caller)
    {
        for (var i = 0; i < Count; i++)
        {
            for (var c = Callers[i]; c is not null; c = c.Next)
            {
                if (ReferenceEquals(c, caller))
                {
                    return i;
                }
            }
        }

        return -1;
    }

    public void Reset()
    {
        for (var i = 0; i < Count; i++)
        {
            ClearSlot(i);
        }

        SlotByItem?.Clear();
        Count = 0;
        Submissions = 0;
        SucceededCount = 0;
        FailedCount = 0;
        CutCount = 0;
        OpenedAt = 0;
        Sequence = 0;
        Started = false;
    }

    public void Execute() => _owner.RunWorker(this);

    private void ClearSlot(int index)
    {
        if (RuntimeHelpers.IsReferenceOrContainsReferences<TItem>())
        {
            Items[index] = default!;
        }

        Callers[index] = null;
        Posts[index] = 0;
        if (_links is not null)
        {
            _links[index] = null;
        }
    }
}
