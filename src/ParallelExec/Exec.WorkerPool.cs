using ParallelExec.Workers;

namespace ParallelExec;

public static partial class Exec
{
    /// <summary>Starts configuring a <see cref="Workers.WorkerPool"/>: N workers over a bounded queue.</summary>
    /// <returns>A single-use builder; finish with <c>Build()</c>.</returns>
    /// <example>
    /// <code>
    /// await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(8).WithQueue(1024, QueueFullMode.Wait).Build();
    /// var size = await pool.RunAsync(async ct => (await File.ReadAllBytesAsync(path, ct)).Length);
    /// </code>
    /// </example>
    public static WorkerPoolBuilder WorkerPool() => new();

    /// <summary>
    /// Runs <paramref name="body"/> for every item with at most <paramref name="maxDegreeOfParallelism"/> running at once, and returns
    /// the results in input order: the concurrent replacement for a sequential <c>foreach</c> with <c>await</c>.
    /// </summary>
    /// <typeparam name="TSource">The item type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="items">The items; enumerated lazily, a few ahead of the running ones.</param>
    /// <param name="maxDegreeOfParallelism">How many bodies run at the same time.</param>
    /// <param name="body">The work per item; its token is cancelled when another item fails or the caller cancels.</param>
    /// <param name="cancellationToken">Cancels the whole run.</param>
    /// <returns>The results, in the order of <paramref name="items"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or <paramref name="body"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is zero or negative.</exception>
    /// <exception cref="AggregateException">One or more bodies threw: it holds every real failure, not the
    /// cancellations the first failure caused in the other bodies.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled and no body failed.</exception>
    public static Task<TResult[]> ForEachAsync<TSource, TResult>(
        IEnumerable<TSource> items, int maxDegreeOfParallelism, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        ArgumentNullException.ThrowIfNull(body);
        return ForEachCoreAsync(pool => pool.ProcessAsync(items, body, ResultOrder.Input, cancellationToken), maxDegreeOfParallelism);
    }

    /// <inheritdoc cref="ForEachAsync{TSource, TResult}(IEnumerable{TSource}, int, Func{TSource, CancellationToken, ValueTask{TResult}}, CancellationToken)"/>
    public static Task<TResult[]> ForEachAsync<TSource, TResult>(
        IAsyncEnumerable<TSource> items, int maxDegreeOfParallelism, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        ArgumentNullException.ThrowIfNull(body);
        return ForEachCoreAsync(pool => pool.ProcessAsync(items, body, ResultOrder.Input, cancellationToken), maxDegreeOfParallelism);
    }

    private static async Task<TResult[]> ForEachCoreAsync<TResult>(Func<WorkerPool, IAsyncEnumerable<TResult>> process, int maxDegreeOfParallelism)
    {
        var pool = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, QueueCapacity = maxDegreeOfParallelism, Name = "Exec.ForEachAsync" });
        await using (pool.ConfigureAwait(false))
        {
            var results = new List<TResult>();
            await foreach (var result in process(pool).ConfigureAwait(false))
            {
                results.Add(result);
            }

            return [.. results];
        }
    }
}
