using ParallelExec.Batching;

namespace ParallelExec.Net;

/// <summary>Coalescers: single calls gathered into bulk calls, each bulk call admitted through the gate.</summary>
public sealed partial class HttpGate
{
    /// <summary>
    /// Creates a coalescer that gathers single calls into bulk calls to <paramref name="provider"/>, each bulk call
    /// admitted through this gate.
    /// </summary>
    /// <typeparam name="TItem">One caller's request.</typeparam>
    /// <typeparam name="TResult">One caller's result.</typeparam>
    /// <param name="provider">The provider whose limits each bulk call counts against.</param>
    /// <param name="bulkCall">Makes one bulk call for a batch and returns one result per item, in order. Throw
    /// <see cref="ProviderThrottledException"/> to report throttling.</param>
    /// <param name="batching">Batch size, delay, concurrent batches and queue of the coalescer; <see langword="null"/> for
    /// the batch processor's defaults.</param>
    /// <param name="weigh">The weight of a bulk call against the provider's weight limit; <see langword="null"/> for 1.</param>
    /// <param name="priority">The priority of the bulk calls among the gate's waiting calls.</param>
    /// <returns>The coalescer; dispose it before the gate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="bulkCall"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A batching option is invalid.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public RequestCoalescer<TItem, TResult> Coalesce<TItem, TResult>(
        string provider,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> bulkCall,
        BatchProcessorOptions<TItem>? batching = null,
        Func<IReadOnlyList<TItem>, int>? weigh = null,
        int priority = 0)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(bulkCall);
        lock (_lock)
        {
            _lifecycle.ThrowIfNotOpen(Name);
        }

        return new RequestCoalescer<TItem, TResult>(this, provider, bulkCall, batching ?? new BatchProcessorOptions<TItem>(), weigh, priority);
    }

    /// <summary>
    /// Creates a coalescer that gathers single calls into bulk HTTP requests to <paramref name="provider"/>, sent on the
    /// shared <see cref="Client"/> through this gate: a 429 (or 503 with <c>Retry-After</c>) pauses the provider and the
    /// bulk request is retried through the gate's pipeline.
    /// </summary>
    /// <typeparam name="TItem">One caller's request.</typeparam>
    /// <typeparam name="TResult">One caller's result.</typeparam>
    /// <param name="provider">The provider whose limits each bulk request counts against.</param>
    /// <param name="createRequest">Creates the bulk request for a batch; called once per attempt.</param>
    /// <param name="readResults">Reads one result per item, in order, from a successful bulk response.</param>
    /// <param name="batching">Batch size, delay, concurrent batches and queue of the coalescer; <see langword="null"/> for
    /// the batch processor's defaults.</param>
    /// <param name="weigh">The weight of a bulk request against the provider's weight limit; <see langword="null"/> for 1.</param>
    /// <param name="priority">The priority of the bulk requests among the gate's waiting calls.</param>
    /// <returns>The coalescer; dispose it before the gate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/>, <paramref name="createRequest"/> or <paramref name="readResults"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A batching option is invalid.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public RequestCoalescer<TItem, TResult> CoalesceHttp<TItem, TResult>(
        string provider,
        Func<IReadOnlyList<TItem>, HttpRequestMessage> createRequest,
        Func<IReadOnlyList<TItem>, HttpResponseMessage, CancellationToken, ValueTask<IReadOnlyList<TResult>>> readResults,
        BatchProcessorOptions<TItem>? batching = null,
        Func<IReadOnlyList<TItem>, int>? weigh = null,
        int priority = 0)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(createRequest);
        ArgumentNullException.ThrowIfNull(readResults);
        return Coalesce<TItem, TResult>(
            provider,
            async (items, token) =>
            {
                using var response = await SendOnceAsync(provider, () => createRequest(items), throttleAsResult: false, token).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                return await readResults(items, response, token).ConfigureAwait(false);
            },
            batching,
            weigh,
            priority);
    }
}
