namespace ParallelExec.Batching;

/// <summary>
/// The flushed batches waiting for a handler slot, oldest first: a growable ring, so that taking the oldest is O(1)
/// however long the backlog, while eviction can still look at any position.
/// </summary>
internal sealed class BatchQueue<T>
    where T : class
{
    private T?[] _items = new T?[8];
    private int _head;

    public int Count { get; private set; }

    public T this[int index] => _items[(_head + index) % _items.Length]!;

    public void Enqueue(T item)
    {
        if (Count == _items.Length)
        {
            var larger = new T?[_items.Length * 2];
            for (var i = 0; i < Count; i++)
            {
                larger[i] = this[i];
            }

            _items = larger;
            _head = 0;
        }

        _items[(_head + Count) % _items.Length] = item;
        Count++;
    }

    public T Dequeue()
    {
        var item = _items[_head]!;
        _items[_head] = null;
        _head = (_head + 1) % _items.Length;
        Count--;
        return item;
    }

    public List<T> DrainToList()
    {
        var all = new List<T>(Count);
        while (Count > 0)
        {
            all.Add(Dequeue());
        }

        _head = 0;
        return all;
    }
}
