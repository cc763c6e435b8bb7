namespace ParallelExec.Workers;

/// <summary>
/// The order in which <see cref="WorkerPool.ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>
/// yields results.
/// </summary>
public enum ResultOrder
{
    /// <summary>Results come in the order of the source items (a result waits for the results of earlier items).</summary>
    Input = 0,

    /// <summary>Results come as soon as each item completes.</summary>
    Completion = 1,
}
