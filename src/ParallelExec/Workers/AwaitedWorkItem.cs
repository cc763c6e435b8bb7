using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// A work item whose caller awaits its result. It is its own <see cref="IValueTaskSource{TResult}"/>; the caller's
/// <see cref="IValueTaskSource{TResult}.GetResult"/> returns it to a shared pool, so steady-state awaited work allocates
/// nothing. Continuations always run asynchronously, so completing a caller never runs the caller's code on a worker.
/// </summary>
internal sealed class AwaitedWorkItem<T> : WorkItem, IValueTaskSource<T>, IValueTaskSource
{
    private static readonly ObjectPool<AwaitedWorkItem<T>> s_pool =
        new DefaultObjectPool<AwaitedWorkItem<T>>(new DefaultPooledObjectPolicy<AwaitedWorkItem<T>>(), 4096);

    // One node in front of the shared pool: a caller that awaits a result and then submits the next item takes back the
    // node it just released with one interlocked operation, without the pool's policy call and interface check.
    private static AwaitedWorkItem<T>? s_fastItem;

    private ManualResetValueTaskSourceCore<T> _core = new() { RunContinuationsAsynchronously = true };
    private Func<CancellationToken, ValueTask<T>>? _work;
    private Func<CancellationToken, ValueTask>? _voidWork;
    private T _result = default!;

    internal short Version => _core.Version;

    internal override Delegate Work => (Delegate?)_work ?? _voidWork!;

    internal override bool IsAwaited => true;

    internal static AwaitedWorkItem<T> Rent(WorkerPool pool, object? key, Func<CancellationToken, ValueTask<T>>? work, Func<CancellationToken, ValueTask>? voidWork)
    {
        var item = s_fastItem;
        if (item is null || Interlocked.CompareExchange(ref s_fastItem, null, item) != item)
        {
            item = s_pool.Get();
        }

        item.Pool = pool;
        item.Key = key;
        item._work = work;
        item._voidWork = voidWork;
        return item;
    }

    protected override ValueTask InvokeAsync(CancellationToken token)
    {
        if (_voidWork is not null)
        {
            return _voidWork(token);
        }

        var pending = _work!(token);
        if (pending.IsCompletedSuccessfully)
        {
            _result = pending.Result;
            return default;
        }

        return AwaitResultAsync(pending);
    }

    private async ValueTask AwaitResultAsync(ValueTask<T> pending) => _result = await pending.ConfigureAwait(false);

    internal override void Complete()
    {
        if (Outcome == ItemOutcome.Succeeded)
        {
            _core.SetResult(_result);
        }
        else
        {
            _core.SetException(Error!);
        }
    }

    internal override void CompleteWithoutRunning(Exception exception) => _core.SetException(exception);

    public T GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        try
        {
            _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        CallerWaiting = true;
        _core.OnCompleted(continuation, state, token, flags);
    }

    private void Recycle()
    {
        ResetBase();
        _work = null;
        _voidWork = null;
        _result = default!;
        _core.Reset();
        if (s_fastItem is not null || Interlocked.CompareExchange(ref s_fastItem, this, null) is not null)
        {
            s_pool.Return(this);
        }
    }
}
