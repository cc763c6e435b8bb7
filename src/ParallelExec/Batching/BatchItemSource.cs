using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;

namespace ParallelExec.Batching;

/// <summary>
/// The pooled completion behind the <see cref="ValueTask{TResult}"/> one awaited submission returns. It goes back to
/// its pool as soon as the caller has read the result, so awaiting an item allocates nothing in steady state.
/// </summary>
/// <remarks>
/// Ownership: the submitting call owns the source until it is in a batch; then whoever removes it from the batch
/// under the processor's lock (cancellation, eviction) or the worker that started its batch completes it, exactly once.
/// Continuations run asynchronously so that completing a batch never runs a caller's code on the worker.
/// </remarks>
internal sealed class BatchItemSource<TItem, TResult> : IValueTaskSource<TResult>
    where TItem : notnull
{
    private readonly ObjectPool<BatchItemSource<TItem, TResult>> _pool;
    private ManualResetValueTaskSourceCore<TResult> _core;

    public BatchItemSource(ObjectPool<BatchItemSource<TItem, TResult>> pool)
    {
        _pool = pool;
        _core.RunContinuationsAsynchronously = true;
    }

    /// <summary>The next caller sharing the same batch slot (coalesced submissions).</summary>
    public BatchItemSource<TItem, TResult>? Next { get; set; }

    /// <summary>The batch this submission waits in; null until it is enqueued.</summary>
    public PendingBatch<TItem, TResult>? Batch { get; set; }

    /// <summary>Set under the lock when the token fired before the submission reached a batch.</summary>
    public bool CancelRequested { get; set; }

    /// <summary>Set under the lock when cancellation or eviction took the submission out of its batch.</summary>
    public bool Removed { get; set; }

    public CancellationToken Token { get; set; }

    public CancellationTokenRegistration Registration { get; set; }

    public short Version => _core.Version;

    public ValueTask<TResult> AsValueTask() => new(this, _core.Version);

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception error) => _core.SetException(error);

    public TResult GetResult(short token)
    {
        if (token != _core.Version)
        {
            throw new InvalidOperationException("A batch item's ValueTask was awaited twice or after its result was read.");
        }

        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            ReturnToPool();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    /// <summary>Recycles a source that never produced a ValueTask (rejected or refused before enqueueing).</summary>
    public void ReturnToPool()
    {
        _core.Reset();
        Next = null;
        Batch = null;
        CancelRequested = false;
        Removed = false;
        Token = default;
        Registration = default;
        _pool.Return(this);
    }

    /// <summary>Creates sources bound to the pool they return to (set right after the pool is built).</summary>
    internal sealed class Policy : IPooledObjectPolicy<BatchItemSource<TItem, TResult>>
    {
        public ObjectPool<BatchItemSource<TItem, TResult>>? Pool { get; set; }

        public BatchItemSource<TItem, TResult> Create() => new(Pool!);

        public bool Return(BatchItemSource<TItem, TResult> obj) => true;
    }
}
