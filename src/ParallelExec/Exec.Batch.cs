using ParallelExec.Batching;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>
    /// Starts building a <see cref="BatchProcessor{TItem, TResult}"/> whose handler returns one result per item, by
    /// position (result <c>i</c> belongs to item <c>i</c>).
    /// </summary>
    /// <typeparam name="TItem">The type of the submitted items.</typeparam>
    /// <typeparam name="TResult">The type of each item's result.</typeparam>
    /// <param name="handler">The bulk handler: a read-only list of distinct items in, as many results in the same order out.</param>
    /// <returns>A single-use builder; finish with <c>Build()</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is <see langword="null"/>.</exception>
    public static BatchProcessorBuilder<TItem, TResult> Batch<TItem, TResult>(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> handler)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new BatchProcessorBuilder<TItem, TResult>(handler, null);
    }

    /// <summary>
    /// Starts building a <see cref="BatchProcessor{TItem, TResult}"/> whose handler returns results by key, DataLoader
    /// style: a dictionary from item to result.
    /// </summary>
    /// <typeparam name="TItem">The type of the submitted items, which are the dictionary's keys.</typeparam>
    /// <typeparam name="TResult">The type of each item's result.</typeparam>
    /// <param name="handler">The bulk handler: a read-only list of distinct items in, a dictionary of results out.</param>
    /// <returns>A single-use builder; finish with <c>Build()</c>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> is <see langword="null"/>.</exception>
    public static BatchProcessorBuilder<TItem, TResult> BatchByKey<TItem, TResult>(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>> handler)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new BatchProcessorBuilder<TItem, TResult>(null, handler);
    }
}
