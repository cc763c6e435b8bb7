using System.Runtime.ExceptionServices;
using ParallelExec.Batching;

namespace ParallelExec.Memory;

/// <summary>The two batchers and their handlers: what one read batch and one write batch do on the inner store.</summary>
public sealed partial class BatchingMemoryStore
{
    // The only place the store configures its batch processors.
    private BatchProcessorOptions<TItem> ProcessorOptions<TItem>(bool coalesce, string kind) => new()
    {
        MaxBatchSize = _options.MaxBatchSize,
        MaxDelay = _options.MaxDelay,
        MaxDegreeOfParallelism = _options.MaxDegreeOfParallelism,
        QueueCapacity = _options.QueueCapacity,
        Coalesce = coalesce,
        TimeProvider = _options.TimeProvider,
        Name = _options.Name + "." + kind,
    };

    /// <summary>
    /// One read batch: one GetManyAsync per namespace; a failing namespace fails the whole batch's reads. The store's
    /// own cut token governs (the batchers are disposed without a deadline of their own).
    /// </summary>
    private async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>?>> ReadBatchAsync(IReadOnlyList<StoreKey> keys, CancellationToken cancellationToken)
    {
        _readFlow?.Started();
        try
        {
            return await ReadBatchCoreAsync(keys).ConfigureAwait(false);
        }
        finally
        {
            _readFlow?.Ended();
        }
    }

    private async ValueTask<IReadOnlyList<ReadOnlyMemory<byte>?>> ReadBatchCoreAsync(IReadOnlyList<StoreKey> keys)
    {
        Interlocked.Increment(ref _readBatches);
        var results = new ReadOnlyMemory<byte>?[keys.Count];
        foreach (var group in GroupIndexes(keys, static k => k.Namespace))
        {
            ThrowIfCut();
            IReadOnlyDictionary<string, ReadOnlyMemory<byte>> found;
            try
            {
                found = await _inner.GetManyAsync(group.Key, group.Value.Select(i => keys[i].Key), _cut.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_cut.IsCancellationRequested)
            {
                throw new ItemDroppedException(DropReason.DrainTimeout);
            }

            foreach (var index in group.Value)
            {
                results[index] = found.TryGetValue(keys[index].Key, out var value) ? (ReadOnlyMemory<byte>?)value : null;
            }
        }

        return results;
    }

    /// <summary>
    /// One write batch: one SetManyAsync per namespace and time to live, each all-or-nothing in the inner store; a
    /// failing group fails only its own callers, and groups not yet written when the drain timeout passes are cut.
    /// </summary>
    private async ValueTask<IReadOnlyList<WriteOutcome>> WriteBatchAsync(IReadOnlyList<PendingWrite> writes, CancellationToken cancellationToken)
    {
        _writeFlow?.Started();
        try
        {
            return await WriteBatchCoreAsync(writes).ConfigureAwait(false);
        }
        finally
        {
            _writeFlow?.Ended();
        }
    }

    private async ValueTask<IReadOnlyList<WriteOutcome>> WriteBatchCoreAsync(IReadOnlyList<PendingWrite> writes)
    {
        Interlocked.Increment(ref _writeBatches);
        var results = new WriteOutcome[writes.Count];
        foreach (var group in GroupIndexes(writes, static w => (w.Key.Namespace, w.TimeToLive)))
        {
            try
            {
                ThrowIfCut();
                var entries = group.Value.Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>(writes[i].Key.Key, writes[i].Value)).ToList();
                await _inner.SetManyAsync(group.Key.Namespace, entries, group.Key.TimeToLive, _cut.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                var failure = new WriteOutcome(ExceptionDispatchInfo.Capture(
                    ex is OperationCanceledException && _cut.IsCancellationRequested ? new ItemDroppedException(DropReason.DrainTimeout) : ex));
                foreach (var index in group.Value)
                {
                    results[index] = failure;
                }
            }
        }

        return results;
    }

    /// <summary>
    /// When a batch of one kind goes without waiting: at once when none of that kind is running, and as soon as the
    /// running one ends for the calls that gathered meanwhile. Lock-free; a missed flush costs at most MaxDelay.
    /// </summary>
    private sealed class BatchFlow(Action flush)
    {
        private int _running;

        // Set by the caller that flushed an idle batcher, so the callers right behind it (before its batch starts) join
        // the open batch instead of each sending a batch of one; cleared when a batch starts or ends.
        private int _flushPending;

        public void Submitted()
        {
            if (Volatile.Read(ref _running) == 0 && Interlocked.CompareExchange(ref _flushPending, 1, 0) == 0)
            {
                flush();
            }
        }

        public void Started()
        {
            Interlocked.Increment(ref _running);
            Volatile.Write(ref _flushPending, 0);
        }

        public void Ended()
        {
            Interlocked.Decrement(ref _running);
            Volatile.Write(ref _flushPending, 0);
            flush();
        }
    }

    private void ThrowIfCut()
    {
        if (_cut.IsCancellationRequested)
        {
            throw new ItemDroppedException(DropReason.DrainTimeout);
        }
    }

    /// <summary>Groups item indexes by a key, keeping first-seen group order and input order within a group.</summary>
    private static List<KeyValuePair<TGroup, List<int>>> GroupIndexes<TItem, TGroup>(IReadOnlyList<TItem> items, Func<TItem, TGroup> groupOf)
        where TGroup : notnull
    {
        var groups = new List<KeyValuePair<TGroup, List<int>>>(1);
        for (var i = 0; i < items.Count; i++)
        {
            var group = groupOf(items[i]);
            var found = false;
            foreach (var existing in groups)
            {
                if (EqualityComparer<TGroup>.Default.Equals(existing.Key, group))
                {
                    existing.Value.Add(i);
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                groups.Add(new(group, [i]));
            }
        }

        return groups;
    }
}
