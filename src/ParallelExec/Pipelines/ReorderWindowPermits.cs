using System.Threading.Tasks.Sources;

namespace ParallelExec.Pipelines;

/// <summary>
/// The permits of an ordered stage's reorder window: a worker takes one before it reads an item and the item's permit
/// comes back when the item is passed on in order, so no more than the window's size of items are read ahead of the
/// oldest one still running.
/// </summary>
/// <remarks>
/// <para><b>Why not a SemaphoreSlim.</b> Its <c>WaitAsync(CancellationToken)</c> allocates a task, a cancellation
/// registration and an async state machine each time a worker has to wait: about 520 B per item in
/// <c>PipelineAwaitBenchmarks</c>, where the workers of a 100-wide ordered stage wait for the window on most items
/// (the same stage unordered allocated 306 B per item, the hand-written channels 285 B). Here each worker owns one
/// reusable <see cref="Waiter"/> (a worker waits for one permit at a time), and the run's cancellation is one
/// registration for the whole window, which fails every waiting worker at once.</para>
/// <para><b>Locking.</b> <see cref="_lock"/> guards the count, the queue of waiters and <see cref="_cancelled"/>;
/// waiters are completed after it is released, and their continuations run asynchronously.</para>
/// </remarks>
internal sealed class ReorderWindowPermits : IDisposable
{
    private readonly object _lock = new();
    private readonly Queue<Waiter> _waiters = new();
    private readonly CancellationToken _cancellationToken;
    private readonly CancellationTokenRegistration _registration;
    private int _available;
    private bool _cancelled;

    public ReorderWindowPermits(int permits, CancellationToken cancellationToken)
    {
        _available = permits;
        _cancellationToken = cancellationToken;
        _registration = cancellationToken.UnsafeRegister(static state => ((ReorderWindowPermits)state!).Cancel(), this);
    }

    /// <summary>Takes a permit, waiting with <paramref name="waiter"/> (the calling worker's own) if none is free.</summary>
    /// <exception cref="OperationCanceledException">The run was cancelled (before or while waiting).</exception>
    public ValueTask WaitAsync(Waiter waiter)
    {
        lock (_lock)
        {
            if (_cancelled)
            {
                return ValueTask.FromCanceled(_cancellationToken);
            }

            if (_available > 0)
            {
                _available--;
                return default;
            }

            waiter.Reset();
            _waiters.Enqueue(waiter);
            return waiter.AsValueTask();
        }
    }

    /// <summary>Gives a permit back: to the longest-waiting worker, if any.</summary>
    public void Release()
    {
        Waiter? next;
        lock (_lock)
        {
            if (!_waiters.TryDequeue(out next))
            {
                _available++;
                return;
            }
        }

        next.Grant();
    }

    public void Dispose() => _registration.Dispose();

    private void Cancel()
    {
        Waiter[] waiting;
        lock (_lock)
        {
            _cancelled = true;
            waiting = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var waiter in waiting)
        {
            waiter.Fail(new OperationCanceledException(_cancellationToken));
        }
    }

    /// <summary>One worker's wait for a permit, reused for every wait of that worker (it allocates nothing per wait).</summary>
    internal sealed class Waiter : IValueTaskSource
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public void Reset() => _core.Reset();

        public ValueTask AsValueTask() => new(this, _core.Version);

        public void Grant() => _core.SetResult(true);

        public void Fail(Exception exception) => _core.SetException(exception);

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
