using ParallelExec.Batching;

namespace ParallelExec.Net;

/// <summary>
/// Coalesces single calls to a provider that has a bulk endpoint (many single embedding requests into one bulk
/// request, say): each caller submits one item and gets its own result, while the provider sees one bulk call per
/// batch, admitted through the <see cref="HttpGate"/> like any other call. Created by
/// <see cref="HttpGate.Coalesce{TItem, TResult}"/> or <see cref="HttpGate.CoalesceHttp{TItem, TResult}"/>.
/// </summary>
/// <typeparam name="TItem">One caller's request.</typeparam>
/// <typeparam name="TResult">One caller's result.</typeparam>
/// <remarks>
/// Built on <see cref="BatchProcessor{TItem, TResult}"/>, whose lifecycle it is: batches flush by size or delay, results
/// are matched to callers by position, and a failed bulk call fails each of its callers with the exception (or is
/// bisected, per the batching options). A bulk call the provider throttles pauses the provider and is retried through
/// the gate's pipeline. Complete or dispose the coalescer before its gate: it flushes and drains the open batch through
/// the gate.
/// </remarks>
public sealed class RequestCoalescer<TItem, TResult> : IExecComponent
    where TItem : notnull
{
    private readonly BatchProcessor<TItem, TResult> _processor;
    private readonly string _provider;

    internal RequestCoalescer(
        HttpGate gate,
        string provider,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> bulkCall,
        BatchProcessorOptions<TItem> options,
        Func<IReadOnlyList<TItem>, int>? weigh,
        int priority)
    {
        _provider = provider;
        _processor = new BatchProcessor<TItem, TResult>(
            async (items, cancellationToken) => await gate.RunAsync(
                provider,
                token => bulkCall(items, token),
                weigh?.Invoke(items) ?? 1,
                priority,
                cancellationToken).ConfigureAwait(false),
            options);
    }

    /// <summary>Gets the coalescer's name: the name of its batching options.</summary>
    public string Name => _processor.Name;

    /// <summary>Gets a task that completes when intake has stopped and every submitted item has ended.</summary>
    public Task Completion => _processor.Completion;

    /// <summary>Submits one item and waits for its own result from the bulk call its batch goes into.</summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Cancels the wait; an item not yet sent leaves its batch.</param>
    /// <returns>The item's result.</returns>
    /// <exception cref="ItemDroppedException">The batching queue dropped or rejected the item.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">The coalescer was completed.</exception>
    /// <exception cref="ObjectDisposedException">The coalescer is disposed.</exception>
    public ValueTask<TResult> SendAsync(TItem item, CancellationToken cancellationToken = default) =>
        _processor.SubmitAsync(item, cancellationToken);

    /// <summary>Sends the open batch now instead of waiting for its size or delay.</summary>
    /// <param name="cancellationToken">Cancels the wait for the flush.</param>
    /// <returns>A task that completes when the batch has been handed to the bulk call.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The coalescer is disposed.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default) => _processor.FlushAsync(cancellationToken);

    /// <summary>Takes a snapshot of the coalescer: its ledger of single calls and the bulk calls made for them.</summary>
    /// <returns>The snapshot.</returns>
    public RequestCoalescerStatistics GetStatistics()
    {
        var batching = _processor.GetStatistics();
        return new RequestCoalescerStatistics(Name, batching.Ledger, _provider, batching.Batches, batching.HandlerCalls);
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <summary>Stops intake and sends the open batch; items already submitted still get their results. Idempotent.</summary>
    public void Complete() => _processor.Complete();

    /// <summary>Stops intake, sends the open batch and waits for every bulk call to end (within the batching options' drain timeout). Idempotent.</summary>
    /// <returns>A task that completes when the coalescer has drained.</returns>
    public ValueTask DisposeAsync() => _processor.DisposeAsync();
}
