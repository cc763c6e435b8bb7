using System.Collections;

namespace ParallelExec.Batching;

/// <summary>
/// The read-only list a bulk handler receives: a window over the batch's pooled item array. It is detached when the
/// handler call completes, because the array is reused for a later batch; a handler that keeps the list gets an
/// exception instead of another batch's items.
/// </summary>
internal sealed class BatchItemsView<TItem> : IReadOnlyList<TItem>
{
    private TItem[]? _items;
    private readonly int _offset;
    private readonly int _count;

    public BatchItemsView(TItem[] items, int offset, int count)
    {
        _items = items;
        _offset = offset;
        _count = count;
    }

    public int Count => _count;

    public TItem this[int index]
    {
        get
        {
            var items = _items ?? throw Detached();
            if ((uint)index >= (uint)_count)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index, $"The batch has {_count} items.");
            }

            return items[_offset + index];
        }
    }

    public void Detach() => _items = null;

    public IEnumerator<TItem> GetEnumerator()
    {
        var items = _items ?? throw Detached();
        for (var i = 0; i < _count; i++)
        {
            if (_items is null)
            {
                throw Detached();
            }

            yield return items[_offset + i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static InvalidOperationException Detached() =>
        new("The batch's item list is only valid until the handler's task completes; copy it to keep it.");
}
