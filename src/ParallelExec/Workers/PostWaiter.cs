using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;

namespace ParallelExec.Workers;

/// <summary>
/// The pending <see cref="WorkerPool.PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/> of a posted
/// item waiting for room in a full queue. Pooled; returned to the pool by <see cref="GetResult"/>.
/// </summary>
internal sealed class PostWaiter : IValueTaskSource<PostResult>
{
    private static readonly ObjectPool<PostWaiter> s_pool =
        new DefaultObjectPool<PostWaiter>(new DefaultPooledObjectPolicy<PostWaiter>(), 1024);

    private ManualResetValueTaskSourceCore<PostResult> _core = new() { RunContinuationsAsynchronously = true };

    internal static PostWaiter Rent() => s_pool.Get();

    internal ValueTask<PostResult> Task => new(this, _core.Version);

    internal void SetResult(PostResult result) => _core.SetResult(result);

    internal void SetException(Exception exception) => _core.SetException(exception);

    public PostResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            s_pool.Return(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
