using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// Work that returns a value, run through a result-aware Polly pipeline (<see cref="ResiliencePipeline{T}"/>): hedging,
/// or a retry decided on the result, plug in here. The pool's own <see cref="WorkerPoolOptions.ResiliencePipeline"/>,
/// if any, runs around it, once per item.
/// </summary>
public sealed partial class WorkerPool
{
    /// <summary>Runs <paramref name="work"/> on a worker through <paramref name="resilience"/> and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work; each attempt (each hedge) receives a token from the pipeline, linked to the item's.</param>
    /// <param name="resilience">The Polly pipeline, which sees each result.</param>
    /// <param name="cancellationToken">Cancels the submission; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <returns>The result the pipeline settled on; faults as described for <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public ValueTask<T> RunAsync<T>(Func<CancellationToken, ValueTask<T>> work, ResiliencePipeline<T> resilience, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(resilience);
        return SubmitAwaited<T>(null, Wrap(work, resilience), null, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> in per-key order through <paramref name="resilience"/>; see <see cref="RunAsync{T}(object, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="key">The ordering key, compared with <see cref="object.Equals(object)"/>.</param>
    /// <param name="work">The work.</param>
    /// <param name="resilience">The Polly pipeline, which sees each result.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>The result the pipeline settled on.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/>, <paramref name="work"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public ValueTask<T> RunAsync<T>(object key, Func<CancellationToken, ValueTask<T>> work, ResiliencePipeline<T> resilience, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        ArgumentNullException.ThrowIfNull(resilience);
        return SubmitAwaited<T>(key, Wrap(work, resilience), null, cancellationToken);
    }

    /// <summary>
    /// Processes a sequence like <see cref="ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>,
    /// each item's body running through <paramref name="resilience"/>.
    /// </summary>
    /// <typeparam name="TSource">The item type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="source">The items.</param>
    /// <param name="body">The work per item.</param>
    /// <param name="resilience">The Polly pipeline, which sees each result.</param>
    /// <param name="order">Whether results come in input order or as they complete.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The results; see the overload without a pipeline for failures and cancellation.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/>, <paramref name="body"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public IAsyncEnumerable<TResult> ProcessAsync<TSource, TResult>(
        IEnumerable<TSource> source, Func<TSource, CancellationToken, ValueTask<TResult>> body, ResiliencePipeline<TResult> resilience,
        ResultOrder order = ResultOrder.Input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resilience);
        ArgumentNullException.ThrowIfNull(body);
        return ProcessAsync(source, Wrap(body, resilience), order, cancellationToken);
    }

    /// <inheritdoc cref="ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResiliencePipeline{TResult}, ResultOrder, CancellationToken)"/>
    public IAsyncEnumerable<TResult> ProcessAsync<TSource, TResult>(
        IAsyncEnumerable<TSource> source, Func<TSource, CancellationToken, ValueTask<TResult>> body, ResiliencePipeline<TResult> resilience,
        ResultOrder order = ResultOrder.Input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(resilience);
        ArgumentNullException.ThrowIfNull(body);
        return ProcessAsync(source, Wrap(body, resilience), order, cancellationToken);
    }

    private static Func<CancellationToken, ValueTask<T>> Wrap<T>(Func<CancellationToken, ValueTask<T>> work, ResiliencePipeline<T> resilience) =>
        ct => resilience.ExecuteAsync(static (work, ct) => work(ct), work, ct);

    private static Func<TSource, CancellationToken, ValueTask<TResult>> Wrap<TSource, TResult>(
        Func<TSource, CancellationToken, ValueTask<TResult>> body, ResiliencePipeline<TResult> resilience) =>
        (item, ct) => resilience.ExecuteAsync(static (state, ct) => state.body(state.item, ct), (body, item), ct);
}
