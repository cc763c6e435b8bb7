using System.Diagnostics;
using System.Runtime.CompilerServices;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Workers;

/// <summary>Where a work item is in its life; changed only under the pool's lock.</summary>
internal enum WorkItemState : byte
{
    /// <summary>Created, not yet admitted (its cancellation registration may already fire).</summary>
    New,

    /// <summary>In the list of submissions waiting for room in a full queue.</summary>
    Waiting,

    /// <summary>In the queue, waiting for a worker (and, if keyed, for its key to be free).</summary>
    Queued,

    /// <summary>Handed to a worker or running inline.</summary>
    Running,

    /// <summary>Ended; the pool no longer refers to it.</summary>
    Done,
}

/// <summary>
/// One unit of work inside a <see cref="WorkerPool"/>. The same object is the queue entry (its sequence number finds its
/// slot in the queue's ring, and its <see cref="WaitListNode{TNode}"/> links chain it into the list of submitters waiting
/// for room, so queueing, cancelling and evicting allocate nothing), carries the caller's cancellation registration and, for awaited work, is the
/// <see cref="System.Threading.Tasks.Sources.IValueTaskSource"/> the caller awaits.
/// </summary>
/// <remarks>
/// Invariants: <see cref="State"/>, the list links and <see cref="CancelRequested"/> change only
/// under the pool lock, except on an item a worker has claimed, which only that worker touches until it runs it. A node
/// is in at most one place (the queue, the waiting list, a worker's claims). A node is recycled only after its
/// cancellation registration has been disposed (which waits for a callback in flight), so a late callback never sees a
/// recycled node.
/// </remarks>
internal abstract class WorkItem : WaitListNode<WorkItem>
{
    internal static readonly Action<object?> OnCallerCancelled = static state => ((WorkItem)state!).Pool!.OnItemCancelled((WorkItem)state);

    /// <summary>The item's position in the pool's queue while it is queued (see <c>WorkerPool.Queue.cs</c>).</summary>
    internal long QueueSeq;
    internal WorkItemState State;

    /// <summary>The priority lane (0: the default and lowest); see <c>WorkerPool.Priorities.cs</c>.</summary>
    internal byte Lane;
    internal bool CancelRequested;
    internal object? Key;
    internal WorkerPool? Pool;
    internal CancellationToken CallerToken;
    internal CancellationTokenRegistration CallerRegistration;

    /// <summary>Whether <see cref="CallerToken"/> can be cancelled (a field: read on every hand-off and completion).</summary>
    internal bool HasCallerToken;

    /// <summary>
    /// Whether the submitter awaits this item and had to wait for it (its continuation is registered), so completing the
    /// item queues that continuation to the thread pool. Set by the awaited item; read by the worker that ran it.
    /// </summary>
    internal bool CallerWaiting;

    /// <summary>Linked token source for a running item whose caller token can be cancelled; kept for reuse.</summary>
    internal CancellationTokenSource? RunCts;

    internal long StartTimestamp;
    internal ItemOutcome Outcome;
    internal Exception? Error;

    /// <summary>
    /// Whether an <see cref="ActivityListener"/> listened when the item was submitted: only then is
    /// <see cref="ParentContext"/> captured and a span started when it runs (so tracing costs nothing when nobody listens).
    /// </summary>
    internal bool Traced;

    /// <summary>The submitter's trace context, captured at submission: the parent of the item's span.</summary>
    internal ActivityContext ParentContext;

    /// <summary>The item's <c>parallelexec.workerpool.item</c> span while it runs.</summary>
    internal Activity? Span;

    /// <summary>Gets the user's delegate, for the <see cref="DroppedItem"/> and <see cref="FailedItem"/> reports.</summary>
    internal abstract Delegate Work { get; }

    /// <summary>Gets whether the submitter awaits this item's completion (so a nested submission may run it inline).</summary>
    internal abstract bool IsAwaited { get; }

    /// <summary>Captures the submitter's trace context (called only while someone listens to the library's spans).</summary>
    internal void CaptureTraceContext()
    {
        Traced = true;
        ParentContext = Activity.Current?.Context ?? default;
    }

    /// <summary>Registers the caller's token. Called before the item is admitted, so no worker can have seen it yet.</summary>
    internal void RegisterCancellation(CancellationToken cancellationToken)
    {
        CallerToken = cancellationToken;
        if (cancellationToken.CanBeCanceled)
        {
            HasCallerToken = true;
            CallerRegistration = cancellationToken.UnsafeRegister(OnCallerCancelled, this);
        }
    }

    /// <summary>Disposes the caller registration, waiting for a callback that is running on another thread.</summary>
    internal void ReleaseRegistration()
    {
        CallerRegistration.Dispose();
        CallerRegistration = default;
    }

    /// <summary>Runs the work (through the pipeline, if any) and records the outcome; never throws.</summary>
    /// <remarks>
    /// Work that completes synchronously (the common case for trivial items) is recorded without entering an async
    /// state machine; only work that is still pending, or that runs through a pipeline, is awaited.
    /// </remarks>
    internal ValueTask ExecuteAsync(CancellationToken token, ResiliencePipeline? pipeline)
    {
        if (pipeline is not null)
        {
            return ExecuteThroughPipelineAsync(token, pipeline);
        }

        ValueTask pending;
        try
        {
            pending = InvokeAsync(token);
            if (pending.IsCompletedSuccessfully)
            {
                // Consumes the result, as awaiting would (a value-task source may be waiting to be released).
                pending.GetAwaiter().GetResult();
                Outcome = ItemOutcome.Succeeded;
                return default;
            }
        }
        catch (Exception exception)
        {
            RecordFailure(exception, token);
            return default;
        }

        return AwaitPendingAsync(pending, token);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitPendingAsync(ValueTask pending, CancellationToken token)
    {
        try
        {
            await pending.ConfigureAwait(false);
            Outcome = ItemOutcome.Succeeded;
        }
        catch (Exception exception)
        {
            RecordFailure(exception, token);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ExecuteThroughPipelineAsync(CancellationToken token, ResiliencePipeline pipeline)
    {
        try
        {
            await pipeline.ExecuteAsync(static (item, ct) => item.InvokeAsync(ct), this, token).ConfigureAwait(false);
            Outcome = ItemOutcome.Succeeded;
        }
        catch (Exception exception)
        {
            RecordFailure(exception, token);
        }
    }

    /// <summary>A cancellation seen by the work's token counts as cancelled; anything else as failed.</summary>
    private void RecordFailure(Exception exception, CancellationToken token)
    {
        Outcome = exception is OperationCanceledException && token.IsCancellationRequested
            ? ItemOutcome.Cancelled
            : ItemOutcome.Failed;
        Error = exception;
    }

    /// <summary>Invokes the user's delegate once, storing its result.</summary>
    protected abstract ValueTask InvokeAsync(CancellationToken token);

    /// <summary>Tells the submitter the outcome of a run. Called outside the lock, after the pool accounted for the item.</summary>
    internal abstract void Complete();

    /// <summary>Tells the submitter the item ended without running (cancelled in the queue, dropped, refused).</summary>
    internal abstract void CompleteWithoutRunning(Exception exception);

    /// <summary>Clears the fields shared by every kind so the node can be reused.</summary>
    protected void ResetBase()
    {
        Previous = null;
        Next = null;
        State = WorkItemState.New;
        Lane = 0;
        CancelRequested = false;
        Key = null;
        Pool = null;
        CallerToken = default;
        CallerRegistration = default;
        HasCallerToken = false;
        CallerWaiting = false;
        StartTimestamp = 0;
        Outcome = default;
        Error = null;
        Traced = false;
        ParentContext = default;
        Span = null;
        if (RunCts is { } cts && !cts.TryReset())
        {
            RunCts = null;
        }
    }
}
