using System.Threading.Tasks.Sources;

namespace ParallelExec.Workers;

/// <summary>
/// One worker of a <see cref="WorkerPool"/>: its idle signal (a reusable value-task source the pool completes with the
/// next item, or with <see langword="null"/> to retire it) and the item it runs now.
/// </summary>
internal sealed class Worker : IValueTaskSource<WorkItem?>
{
    // Asynchronous continuations: the thread that hands over work (a producer, another worker) must never end up running
    // this worker's loop, and so the user's work, inline.
    private ManualResetValueTaskSourceCore<WorkItem?> _signal = new() { RunContinuationsAsynchronously = true };

    /// <summary>The item this worker runs now; read under the pool lock by the disposal deadline.</summary>
    internal WorkItem? Current;

    /// <summary>Prepares the signal before the worker is pushed on the idle stack (under the pool lock).</summary>
    internal void PrepareToWait() => _signal.Reset();

    internal ValueTask<WorkItem?> WaitAsync() => new(this, _signal.Version);

    internal void Signal(WorkItem? item) => _signal.SetResult(item);

    public WorkItem? GetResult(short token) => _signal.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _signal.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}
