using System.Diagnostics;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// A fixed (but resizable) number of workers over a bounded queue of work items. Await a result with
/// <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>, post fire-and-forget work with
/// <see cref="TryPost(Func{CancellationToken, ValueTask})"/> or <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>,
/// keep per-key order with the keyed overloads, or process a whole sequence with
/// <see cref="ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para><b>Ledger.</b> Every submitted item ends exactly once: it succeeds, fails (an awaiting caller gets the exception;
/// a posted item's failure goes to <see cref="WorkerPoolOptions.OnError"/>), is cancelled, or is dropped/rejected by the
/// <see cref="WorkerPoolOptions.FullMode"/> or a disposal deadline (reported to <see cref="WorkerPoolOptions.OnDropped"/>,
/// to the statistics and metrics, and to its submitter: <see cref="ItemDroppedException"/> for awaited items, a
/// <see cref="PostResult"/> for posted ones).</para>
/// <para><b>Cancellation.</b> Cancelling the token of a queued item (or of a submission waiting for room) removes it at
/// once: the item is unlinked from the queue, its slot is freed for the next waiting submission, and an awaiting caller
/// completes as cancelled. Cancelling the token of a running item cancels the token the work receives.</para>
/// <para><b>Nested submissions.</b> A work item running on this pool that submits to the same pool (detected through an
/// <see cref="AsyncLocal{T}"/> set on the workers) must not wait for a worker that may never come. So an awaited nested
/// submission (<c>RunAsync</c>, <c>ProcessAsync</c>) that cannot start at once on an idle worker runs inline on the calling
/// work item (caller-runs), bypassing the queue, its capacity and per-key ordering; a nested
/// <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/> that finds the queue full in
/// <see cref="QueueFullMode.Wait"/> mode runs the item inline and returns <see cref="PostResult.RanInline"/>. Work runs
/// in the workers' execution context, not the submitter's.</para>
/// <para><b>Threading.</b> One lock guards the queue; no user code (work, callbacks, token callbacks) runs under it, and
/// every completion the pool signals continues asynchronously. Under load a worker takes up to 16 items without a key or
/// a cancellable token in one acquisition of the lock and runs them one after another; it gives back those it has not
/// started as soon as one of them waits, another worker is idle, or disposal begins, and until they start they count
/// as queued, so the statistics, the capacity and the drain see them as before. Only the full modes' eviction differs:
/// <see cref="QueueFullMode.DropOldest"/> evicts the oldest item no worker has claimed (claimed ones are about to
/// run). On a machine with more than one processor, a worker that ran an item which completed synchronously and finds
/// nothing to run stays awake for up to 20 µs, yielding its processor between looks, before it parks: a submission in
/// that time is handed to it without a thread-pool wake-up.</para>
/// </remarks>
[DebuggerDisplay("{DebuggerDisplay,nq}")]
public sealed partial class WorkerPool : IAsyncDisposable
{
    private static readonly AsyncLocal<WorkerPool?> s_currentPool = new();

    // The worker whose flow this is; set once per worker, read only by a DisposeAsync called from inside the pool.
    private static readonly AsyncLocal<Worker?> s_currentWorker = new();

    // System.Threading.Lock where it exists: cheaper to take than a Monitor on every submission and hand-off. The Coyote
    // test build defines PARALLELEXEC_MONITOR_LOCK, because Coyote controls Monitor but not Lock (RELIABILITY.md).
#if NET9_0_OR_GREATER && !PARALLELEXEC_MONITOR_LOCK
    private readonly Lock _lock = new();
#else
    private readonly object _lock = new();
#endif
    private readonly int _capacity;

    // Waiting submissions are admitted once the queue has drained to this length, then up to capacity in one burst: a
    // producer that outpaces the workers is woken once per burst instead of once per item.
    private readonly int _admitAtOrBelow;
    private readonly QueueFullMode _fullMode;
    private readonly Action<DroppedWorkItem>? _onDropped;
    private readonly Action<WorkItemFailure>? _onError;
    private readonly ResiliencePipeline? _pipeline;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _shutdownCts = new();

    // Read once: the worker loop passes it to every item that has no token of its own.
    private readonly CancellationToken _shutdownToken;
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Stack<Worker> _idle = new();
    private readonly List<Worker> _workers = [];
    private readonly List<Task> _workerTasks = [];
    private readonly Dictionary<object, bool> _busyKeys = [];

    // The queue (accepted items waiting for a worker: a ring, see WorkerPool.Queue.cs) and the waiting list (submissions
    // waiting for room: an intrusive doubly linked list through WorkItem.Prev/Next), both O(1) to remove an item from.
    private int _queued;
    private int _keyedQueued;
    private WorkItem? _waitHead;
    private WorkItem? _waitTail;
    private int _waiting;

    // Posted items without a cancellable token are rented and recycled under the queue lock, which both sides take
    // anyway: no interlocked traffic between the producer's core and the workers' on the fire-and-forget hot path.
    private PostedWorkItem? _freePosted;
    private int _freePostedCount;

    private int _targetWorkers;
    private int _liveWorkers;
    private int _running;
    private int _peakQueued;
    private long _submitted;
    private long _completed;
    private long _failed;
    private long _cancelled;
    private long _dropped;
    private long _rejected;

    private volatile bool _disposing;
    private bool _stopped;
    private bool _deadlinePassed;
    private Task? _disposeTask;

    // Self-disposal (DisposeAsync called by a work item of this pool): the items that called it, each with the worker it
    // ran on when it called, and the task those calls return. Guarded by _lock.
    private List<(Worker Worker, WorkItem Item, long Starts)>? _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    /// <summary>Creates a pool and starts its workers.</summary>
    /// <param name="options">The configuration; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public WorkerPool(WorkerPoolOptions options)
        : this(options ?? throw new ArgumentNullException(nameof(options)), null)
    {
    }

    internal WorkerPool(WorkerPoolOptions options, IReadOnlyList<string>? nullMembers)
    {
        var copy = options.Clone();
        var validator = new OptionsValidator(nameof(WorkerPoolOptions))
            .RequirePositive(copy.WorkerCount, nameof(WorkerPoolOptions.WorkerCount))
            .RequirePositive(copy.QueueCapacity, nameof(WorkerPoolOptions.QueueCapacity))
            .RequireDefined(copy.FullMode, nameof(WorkerPoolOptions.FullMode))
            .RequireNotNull(copy.TimeProvider, nameof(WorkerPoolOptions.TimeProvider))
            .RequireNotNull(copy.Name, nameof(WorkerPoolOptions.Name));
        foreach (var member in nullMembers ?? [])
        {
            validator.RequireNotNull(null, member);
        }

        validator.ThrowIfInvalid();

        _capacity = copy.QueueCapacity;
        _admitAtOrBelow = _capacity - Math.Max(1, _capacity / 2);
        _fullMode = copy.FullMode;
        _onDropped = copy.OnDropped;
        _onError = copy.OnError;
        _pipeline = copy.ResiliencePipeline;
        _timeProvider = copy.TimeProvider;
        _shutdownToken = _shutdownCts.Token;
        Name = copy.Name;
        NameTag = new KeyValuePair<string, object?>(TelemetryTagNames.Name, copy.Name);

        List<Worker> started;
        lock (_lock)
        {
            started = AddWorkersLocked(copy.WorkerCount);
        }

        StartWorkers(started);
        WorkerPoolMetrics.Register(this);
    }

    /// <summary>Gets the pool's name (<see cref="WorkerPoolOptions.Name"/>).</summary>
    public string Name { get; }

    /// <summary>Gets the number of workers the pool is sized to.</summary>
    public int WorkerCount
    {
        get
        {
            lock (_lock)
            {
                return _targetWorkers;
            }
        }
    }

    internal KeyValuePair<string, object?> NameTag { get; }

    private string DebuggerDisplay => $"{Name}: workers = {_targetWorkers}, queued = {_queued + _claimed}, running = {_running}";

    /// <summary>Runs <paramref name="work"/> on a worker and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work; it receives a token cancelled when <paramref name="cancellationToken"/> is cancelled
    /// while it runs, or when a disposal deadline passes.</param>
    /// <param name="cancellationToken">Cancels the submission: while it waits for room or sits in the queue the item is
    /// removed and the returned task completes as cancelled; while it runs, the work's token is cancelled.</param>
    /// <returns>The work's result. Faults with the work's exception, with <see cref="ItemDroppedException"/> when the
    /// queue policy or a disposal deadline dropped the item, or with <see cref="ObjectDisposedException"/> when the pool
    /// was disposed while the submission waited for room. The value task must be awaited exactly once.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (through the returned task).</exception>
    public ValueTask<T> RunAsync<T>(Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return SubmitAwaited<T>(null, work, null, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> on a worker and completes when it has run.</summary>
    /// <param name="work">The work; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Cancels the submission; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <returns>A task that completes when the work has run; faults as described for <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (through the returned task).</exception>
    public ValueTask RunAsync(Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return SubmitAwaitedVoid(null, work, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="work"/> after every earlier item submitted with an equal <paramref name="key"/> has ended, and
    /// never at the same time as another item with that key; items with different keys run in parallel.
    /// </summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="key">The ordering key, compared with <see cref="object.Equals(object)"/>.</param>
    /// <param name="work">The work; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <param name="cancellationToken">Cancels the submission; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</param>
    /// <returns>The work's result; see <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (through the returned task).</exception>
    public ValueTask<T> RunAsync<T>(object key, Func<CancellationToken, ValueTask<T>> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return SubmitAwaited<T>(key, work, null, cancellationToken);
    }

    /// <summary>Runs <paramref name="work"/> in per-key order; see <see cref="RunAsync{T}(object, Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>.</summary>
    /// <param name="key">The ordering key, compared with <see cref="object.Equals(object)"/>.</param>
    /// <param name="work">The work.</param>
    /// <param name="cancellationToken">Cancels the submission.</param>
    /// <returns>A task that completes when the work has run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (through the returned task).</exception>
    public ValueTask RunAsync(object key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return SubmitAwaitedVoid(key, work, cancellationToken);
    }

    /// <summary>
    /// Posts fire-and-forget work without ever waiting. Its failure goes to <see cref="WorkerPoolOptions.OnError"/>.
    /// </summary>
    /// <param name="work">The work; it receives a token cancelled when a disposal deadline passes.</param>
    /// <returns><see cref="PostResult.Accepted"/>, <see cref="PostResult.AcceptedAfterDrop"/>,
    /// <see cref="PostResult.Rejected"/> (full, <see cref="QueueFullMode.Reject"/>), or <see cref="PostResult.QueueFull"/>
    /// (full, <see cref="QueueFullMode.Wait"/>: nothing was taken).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public PostResult TryPost(Func<CancellationToken, ValueTask> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return TryPostCore(null, work);
    }

    /// <summary>Posts fire-and-forget work in per-key order, without ever waiting; see <see cref="TryPost(Func{CancellationToken, ValueTask})"/>.</summary>
    /// <param name="key">The ordering key, compared with <see cref="object.Equals(object)"/>.</param>
    /// <param name="work">The work.</param>
    /// <returns>What happened to the item; see <see cref="TryPost(Func{CancellationToken, ValueTask})"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public PostResult TryPost(object key, Func<CancellationToken, ValueTask> work)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return TryPostCore(key, work);
    }

    /// <summary>
    /// Posts fire-and-forget work, waiting for room when the queue is full in <see cref="QueueFullMode.Wait"/> mode. The
    /// returned task completes when the item is accepted, not when it has run. Its failure goes to
    /// <see cref="WorkerPoolOptions.OnError"/>.
    /// </summary>
    /// <param name="work">The work; it receives a token cancelled by <paramref name="cancellationToken"/> or a disposal deadline.</param>
    /// <param name="cancellationToken">Cancels the wait for room (the task completes as cancelled), removes the item if it
    /// is still queued (counted as cancelled in the statistics), and reaches the work's token while it runs.</param>
    /// <returns>What happened to the item: <see cref="PostResult.Accepted"/>, <see cref="PostResult.AcceptedAfterDrop"/>,
    /// <see cref="PostResult.Rejected"/> or <see cref="PostResult.RanInline"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed (also through the returned task, when the
    /// pool is disposed while the call waits for room).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting (through the returned task).</exception>
    public ValueTask<PostResult> PostAsync(Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return PostAsyncCore(null, work, cancellationToken);
    }

    /// <summary>Posts fire-and-forget work in per-key order; see <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>.</summary>
    /// <param name="key">The ordering key, compared with <see cref="object.Equals(object)"/>.</param>
    /// <param name="work">The work.</param>
    /// <param name="cancellationToken">Cancels the submission; see <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>.</param>
    /// <returns>What happened to the item.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="key"/> or <paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting (through the returned task).</exception>
    public ValueTask<PostResult> PostAsync(object key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return PostAsyncCore(key, work, cancellationToken);
    }

    /// <summary>
    /// Changes the number of workers while the pool runs. New workers start at once; when shrinking, idle workers retire
    /// at once and busy ones retire when their current item ends (no running item is interrupted).
    /// </summary>
    /// <param name="workerCount">The new number of workers.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="workerCount"/> is zero or negative.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public void SetWorkerCount(int workerCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(workerCount);
        ThrowIfDisposed();
        List<Worker> started;
        lock (_lock)
        {
            _targetWorkers = workerCount;
            started = AddWorkersLocked(workerCount - _liveWorkers);
            while (_liveWorkers > _targetWorkers && _idle.Count > 0)
            {
                RetireLocked(_idle.Pop());
            }
        }

        StartWorkers(started);
    }

    /// <summary>Returns a consistent snapshot of the pool's counters.</summary>
    /// <returns>The counters at one instant.</returns>
    public WorkerPoolStatistics GetStatistics()
    {
        lock (_lock)
        {
            long queued = _queued, completed = _completed, failed = _failed, cancelled = _cancelled;
            AddClaimsLocked(ref queued, ref completed, ref failed, ref cancelled);
            return new WorkerPoolStatistics(
                _targetWorkers, (int)queued, _waiting, _running, _peakQueued,
                _submitted, completed, failed, cancelled, _dropped, _rejected);
        }
    }

    /// <summary>
    /// Stops intake and waits until every queued and running item has ended. Idempotent: later calls return the same
    /// task. Submissions still waiting for room complete with <see cref="ObjectDisposedException"/>.
    /// </summary>
    /// <returns>A task that completes when the pool has drained and its workers have stopped (called from inside a work
    /// item of this pool: when everything else has drained, see the remarks).</returns>
    /// <inheritdoc cref="DisposeAsync(TimeSpan)" path="/remarks"/>
    public ValueTask DisposeAsync() => DisposeAsync(Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Stops intake and drains the queue; when <paramref name="drainDeadline"/> passes (measured with the pool's
    /// <see cref="TimeProvider"/>), items still queued are dropped (<see cref="DropReason.DrainTimeout"/>: their awaiting
    /// callers get <see cref="ItemDroppedException"/>) and the tokens of running items are cancelled; the returned task
    /// then waits for the running items to end. Idempotent: later calls return the first call's task.
    /// </summary>
    /// <param name="drainDeadline">How long to drain before cancelling what is left, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <returns>A task that completes when the pool has stopped (called from inside a work item of this pool: when
    /// everything else has drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside the pool.</b> A work item of this pool (or anything running on its async flow, such as
    /// a nested inline item) that awaits the pool's disposal would wait for itself forever. Such a call is detected
    /// (through the per-worker <see cref="AsyncLocal{T}"/> that also detects nested submissions) and behaves differently
    /// in one point only: it starts the disposal as usual (intake stops, the queue drains, the drain deadline applies to
    /// everything, the calling item included), but the task it returns does not wait for the calling item. It completes
    /// once every worker is idle except the workers running items that called <c>DisposeAsync</c> from inside (so two
    /// items disposing the pool at once do not wait for each other), that is when everything that can run without the
    /// callers has ended. Items still queued then are those that can only start after a caller (same key, or every
    /// worker runs a caller): they run after it, as part of the drain. The calling item then ends as usual, and the
    /// pool finishes stopping in the background.</para>
    /// <para>Calls from outside the pool (the first or later ones) return the full disposal: it completes only when every
    /// item, the ones that called <c>DisposeAsync</c> included, has ended and the workers have stopped.</para>
    /// </remarks>
    public ValueTask DisposeAsync(TimeSpan drainDeadline)
    {
        if (drainDeadline < TimeSpan.Zero && drainDeadline != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(drainDeadline), drainDeadline, "The drain deadline must be zero or positive, or Timeout.InfiniteTimeSpan.");
        }

        WorkItem? refused;
        Task? othersDrained;
        var fromInside = ReferenceEquals(s_currentPool.Value, this);
        lock (_lock)
        {
            if (_disposeTask is not null)
            {
                return new ValueTask(fromInside ? AddSelfDisposerLocked() : _disposeTask);
            }

            _disposing = true;
            refused = _waitHead;
            _waitHead = _waitTail = null;
            for (var item = refused; item is not null; item = item.Next)
            {
                item.State = WorkItemState.Done;
                _cancelled++;
            }

            _waiting = 0;
            CheckDrainedLocked();

            // DisposeCoreAsync runs synchronously up to its first await; it takes only this (reentrant) lock there.
            _disposeTask = DisposeCoreAsync(drainDeadline);
            othersDrained = fromInside ? AddSelfDisposerLocked() : null;
        }

        WorkerPoolMetrics.Unregister(this);

        while (refused is not null)
        {
            var next = refused.Next;
            refused.ReleaseRegistration();
            refused.CompleteWithoutRunning(new ObjectDisposedException(GetType().FullName, "The worker pool was disposed before the item could be queued."));
            refused = next;
        }

        return new ValueTask(othersDrained ?? _disposeTask);
    }

    /// <summary>
    /// Registers a DisposeAsync call made from inside the pool and returns the task it completes with: once every worker
    /// is idle or runs an item that called DisposeAsync from inside. An idle worker means no queued item is runnable (the
    /// pool hands runnable items to idle workers at once), so what is still queued then can only run after a caller has
    /// ended: its key is held by a caller, or every worker runs a caller. Waiting for it would wait for the callers.
    /// </summary>
    private Task AddSelfDisposerLocked()
    {
        // The item the calling worker runs now is the caller, or the item that awaits the inline item that is the caller.
        if (s_currentWorker.Value is { Current: { } item } worker)
        {
            (_selfDisposers ??= []).Add((worker, item, worker.Starts));
        }

        if (_othersDrained is null || _othersDrained.Task.IsCompleted)
        {
            _othersDrained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        var task = _othersDrained.Task;
        CheckDrainedLocked();
        return task;
    }

    private void CheckOthersDrainedLocked()
    {
        // An entry is stale once its worker has moved on from the item (every change of Worker.Current is followed by
        // CheckDrainedLocked under the same lock, so a recycled item cannot come back unnoticed on that worker).
        _selfDisposers?.RemoveAll(static entry => !ReferenceEquals(entry.Worker.Current, entry.Item) || entry.Worker.Starts != entry.Starts);
        foreach (var worker in _workers)
        {
            if (worker.Current is { } current && !IsSelfDisposerLocked(worker, current))
            {
                return;
            }
        }

        _othersDrained!.TrySetResult();
    }

    private bool IsSelfDisposerLocked(Worker worker, WorkItem item)
    {
        foreach (var entry in _selfDisposers ?? [])
        {
            if (ReferenceEquals(entry.Worker, worker) && ReferenceEquals(entry.Item, item) && entry.Starts == worker.Starts)
            {
                return true;
            }
        }

        return false;
    }

    internal void ReportError(WorkItemFailure failure)
    {
        if (_onError is null)
        {
            return;
        }

        try
        {
            _onError(failure);
        }
#pragma warning disable CA1031 // A user's error handler must not be able to kill a worker.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>The caller's token fired; see the state machine in <see cref="WorkItem"/>.</summary>
    internal void OnItemCancelled(WorkItem item)
    {
        CancellationTokenSource? runCts = null;
        var removed = false;
        lock (_lock)
        {
            switch (item.State)
            {
                case WorkItemState.New:
                    item.CancelRequested = true;
                    break;
                case WorkItemState.Waiting:
                    UnlinkWaiterLocked(item);
                    item.State = WorkItemState.Done;
                    _cancelled++;
                    removed = true;
                    CheckDrainedLocked();
                    break;
                case WorkItemState.Queued:
                    RemoveQueuedLocked(item);
                    item.State = WorkItemState.Done;
                    _cancelled++;
                    removed = true;
                    AdmitWaitersLocked();
                    CheckDrainedLocked();
                    break;
                case WorkItemState.Running:
                    item.CancelRequested = true;
                    runCts = item.RunCts;
                    break;
            }
        }

        if (removed)
        {
            RecordOutcome(WorkOutcome.Cancelled);

            // The registration running this callback is the item's own: nothing to dispose, and a recycled node cannot
            // be reached by it again.
            item.CallerRegistration = default;
            item.CompleteWithoutRunning(new OperationCanceledException(item.CallerToken));
        }

        // Outside the lock: cancelling runs the callbacks the user's work registered on its token.
        runCts?.Cancel();
    }

    private ValueTask<T> SubmitAwaited<T>(object? key, Func<CancellationToken, ValueTask<T>>? work, Func<CancellationToken, ValueTask>? voidWork, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<T>(cancellationToken);
        }

        var item = AwaitedWorkItem<T>.Rent(this, key, work, voidWork);
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask<T>(item, version);
    }

    private ValueTask SubmitAwaitedVoid(object? key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        var item = AwaitedWorkItem<VoidResult>.Rent(this, key, null, work);
        var version = item.Version;
        WorkItem? admitted = item;
        Admit(ref admitted, canWait: true, cancellationToken, out _);
        return new ValueTask(item, version);
    }

    private PostResult TryPostCore(object? key, Func<CancellationToken, ValueTask> work)
    {
        ThrowIfDisposed();
        if (key is null && TryAdmitPlain(work))
        {
            return PostResult.Accepted;
        }

        WorkItem? item = null;
        return Admit(ref item, canWait: false, default, out _, key, work) switch
        {
            Admission.Full => RecycleAndReturn((PostedWorkItem)item!, PostResult.QueueFull),
            Admission.Rejected => PostResult.Rejected,
            Admission.QueuedAfterDrop => PostResult.AcceptedAfterDrop,
            _ => PostResult.Accepted,
        };
    }

    private ValueTask<PostResult> PostAsyncCore(object? key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PostResult>(cancellationToken);
        }

        if (key is null && !cancellationToken.CanBeCanceled && TryAdmitPlain(work))
        {
            return new ValueTask<PostResult>(PostResult.Accepted);
        }

        WorkItem? item = cancellationToken.CanBeCanceled ? PostedWorkItem.Rent(this, key, work) : null;
        return Admit(ref item, canWait: true, cancellationToken, out var waiter, key, work) switch
        {
            Admission.Waiting => waiter!.Task,
            Admission.Rejected => new ValueTask<PostResult>(PostResult.Rejected),
            Admission.QueuedAfterDrop => new ValueTask<PostResult>(PostResult.AcceptedAfterDrop),
            Admission.Cancelled => ValueTask.FromCanceled<PostResult>(cancellationToken),
            Admission.RanInline => AwaitInline(item!),
            _ => new ValueTask<PostResult>(PostResult.Accepted),
        };
    }

    /// <summary>
    /// Admits a plain post (no key, no cancellable token) without a node: to an idle worker's own node, or into the queue
    /// as the bare delegate. Returns <see langword="false"/>, having changed nothing, when the queue is full or the pool
    /// is being disposed (the node path then applies the full mode, or throws), and when queue waits are measured (the
    /// node carries the timestamp).
    /// </summary>
    private bool TryAdmitPlain(Func<CancellationToken, ValueTask> work)
    {
        if (WorkerPoolMetrics.WaitTime.Enabled)
        {
            return false;
        }

        Worker? parked;
        WorkItem item;
        lock (_lock)
        {
            if (_disposing)
            {
                return false;
            }

            if (!HasIdleWorkerLocked)
            {
                if (_queued + _claimed >= _capacity)
                {
                    return false;
                }

                _submitted++;
                AppendLocked(work);
                return true;
            }

            // Idle workers exist only when nothing queued is runnable, so this item overtakes nothing.
            _submitted++;
            parked = StartOnIdleWorkerLocked(work, out item);
        }

        // Outside the lock: waking the worker queues it to the thread pool (and may wake a thread, a system call), which
        // the workers finishing items must not wait behind. Off the idle stack, the worker is this call's to signal.
        parked?.Signal(item);
        return true;
    }

    private static PostResult RecycleAndReturn(PostedWorkItem item, PostResult result)
    {
        item.Recycle();
        return result;
    }

    private enum Admission
    {
        Started,
        Queued,
        QueuedAfterDrop,
        Waiting,
        Rejected,
        Full,
        Cancelled,
        RanInline,
    }

    /// <summary>
    /// Hands a new item to the pool: to an idle worker, to the queue (evicting per the full mode), to the waiting list,
    /// or inline for a nested submission that could otherwise deadlock. Every ending that needs no worker (rejected,
    /// cancelled before admission, evicted victim) is completed here, outside the lock.
    /// </summary>
    /// <param name="item">The item, or <see langword="null"/> to rent a posted item for <paramref name="postKey"/> and
    /// <paramref name="postWork"/> under the lock (only when <paramref name="cancellationToken"/> cannot be cancelled).</param>
    /// <param name="canWait">Whether the submission may wait for room (false for <c>TryPost</c>).</param>
    /// <param name="cancellationToken">The submitter's token.</param>
    /// <param name="waiter">The pending result of a posted item that waits for room.</param>
    /// <param name="postKey">The key of a posted item rented under the lock.</param>
    /// <param name="postWork">The work of a posted item rented under the lock.</param>
    /// <returns>What happened to the item.</returns>
    private Admission Admit(
        ref WorkItem? item, bool canWait, CancellationToken cancellationToken, out PostWaiter? waiter,
        object? postKey = null, Func<CancellationToken, ValueTask>? postWork = null)
    {
        waiter = null;

        // Only an awaited item can run inline when no worker is idle: read the AsyncLocal for it outside the lock; a
        // posted item needs the answer only when the queue is full (read there).
        var nestedAwaited = item is { IsAwaited: true } && IsNestedSubmission();
        item?.RegisterCancellation(cancellationToken);

        // Worked on through a local: every access through the ref parameter would be a memory access (and a store, a
        // checked write barrier).
        var current = item;

        Admission admission;
        Worker? started = null; // a parked worker given the item, to signal once the lock is released
        object? victim = null;
        DropReason victimReason = default;
        lock (_lock)
        {
            current ??= RentPostedLocked(postKey, postWork!);
            item = current;
            if (_disposing)
            {
                admission = Admission.Full;
                current.State = WorkItemState.Done;
                goto Disposed;
            }

            if (current.CancelRequested)
            {
                current.State = WorkItemState.Done;
                admission = Admission.Cancelled;
            }
            else if (HasIdleWorkerLocked && IsRunnableLocked(current))
            {
                // Idle workers exist only when no queued item is runnable, so starting this one does not overtake any.
                _submitted++;
                started = StartOnIdleWorkerLocked(current, out _);
                admission = Admission.Started;
            }
            else if (nestedAwaited)
            {
                _submitted++;
                StartInlineLocked(current);
                admission = Admission.RanInline;
            }
            else if (_queued + _claimed < _capacity)
            {
                _submitted++;
                EnqueueLocked(current);
                admission = Admission.Queued;
            }
            else
            {
                switch (_fullMode)
                {
                    case QueueFullMode.Reject:
                        _submitted++;
                        _rejected++;
                        current.State = WorkItemState.Done;
                        admission = Admission.Rejected;
                        break;
                    case QueueFullMode.DropOldest:
                    case QueueFullMode.DropNewest:
                        _submitted++;

                        // Full means at least one item is in the queue itself: a worker claims only after taking one
                        // item, which leaves queued + claimed below the capacity, so claims alone never fill it.
                        Debug.Assert(_queued > 0, "A full queue holds at least one unclaimed item.");
                        (victim, victimReason) = _fullMode == QueueFullMode.DropOldest
                            ? (TakeHeadLocked(), DropReason.DroppedOldest)
                            : (TakeTailLocked(), DropReason.DroppedNewest);
                        if (victim is WorkItem victimItem)
                        {
                            victimItem.State = WorkItemState.Done;
                        }

                        _dropped++;
                        EnqueueLocked(current);
                        admission = Admission.QueuedAfterDrop;
                        break;
                    default:
                        if (!canWait)
                        {
                            current.State = WorkItemState.Done;
                            admission = Admission.Full;
                        }
                        else if (nestedAwaited || (!current.IsAwaited && IsNestedSubmission()))
                        {
                            _submitted++;
                            StartInlineLocked(current);
                            admission = Admission.RanInline;
                        }
                        else
                        {
                            _submitted++;
                            if (current is PostedWorkItem posted)
                            {
                                waiter = posted.Waiter = PostWaiter.Rent();
                            }

                            AppendWaiterLocked(current);
                            admission = Admission.Waiting;
                        }

                        break;
                }
            }
        }

        // Outside the lock, as in TryAdmitPlain: the wake must not lengthen the lock's hold.
        started?.Signal(current);
        switch (admission)
        {
            case Admission.Rejected:
                Drop(current, DropReason.Rejected);
                break;
            case Admission.Cancelled:
                current.ReleaseRegistration();
                if (current.IsAwaited)
                {
                    current.CompleteWithoutRunning(new OperationCanceledException(cancellationToken));
                }
                else
                {
                    ((PostedWorkItem)current).Recycle();
                }

                break;
            case Admission.RanInline when current.IsAwaited:
                _ = RunInlineAsync(current);
                break;
        }

        if (victim is not null)
        {
            Drop(victim, victimReason);
        }

        return admission;

    Disposed:
        current.ReleaseRegistration();
        if (current is PostedWorkItem p)
        {
            p.Recycle();
        }

        throw new ObjectDisposedException(GetType().FullName);
    }

    private async ValueTask<PostResult> AwaitInline(WorkItem item)
    {
        await RunInlineAsync(item).ConfigureAwait(false);
        return PostResult.RanInline;
    }

    /// <summary>Runs a nested submission on the calling flow (caller-runs), with the same accounting as a worker.</summary>
    private async Task RunInlineAsync(WorkItem item)
    {
        var token = item.CallerToken;
        var started = WorkerPoolMetrics.Duration.Enabled ? _timeProvider.GetTimestamp() : 0;
        await item.ExecuteAsync(token, _pipeline).ConfigureAwait(false);
        item.ReleaseRegistration();
        lock (_lock)
        {
            _running--;
            CountOutcomeLocked(item.Outcome);
            CheckDrainedLocked();
        }

        RecordRun(item.Outcome, started);
        item.Complete();
    }

    /// <summary>Reports a dropped queue entry (a node, or a plain posted delegate) and tells its submitter, if any.</summary>
    private void Drop(object entry, DropReason reason)
    {
        var item = entry as WorkItem;
        item?.ReleaseRegistration();
        if (WorkerPoolMetrics.Drops.Enabled)
        {
            WorkerPoolMetrics.Drops.Add(1, NameTag, new KeyValuePair<string, object?>(TelemetryTagNames.DropReason, reason.ToString()));
        }

        if (_onDropped is not null)
        {
            try
            {
                _onDropped(item is null
                    ? new DroppedWorkItem(reason, null, (Delegate)entry)
                    : new DroppedWorkItem(reason, item.Key, item.Work));
            }
#pragma warning disable CA1031 // A user's drop handler must not be able to break a submission or a worker.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        item?.CompleteWithoutRunning(new ItemDroppedException(reason));
    }

    private async Task RunWorkerAsync(Worker worker)
    {
        // Marks every work item this worker runs, and everything they call, as running on this pool (nested-submission
        // detection). Set once per worker, not per item: changing an AsyncLocal allocates.
        s_currentPool.Value = this;
        WorkItem? finished = null;
        long started = 0;
        var mayClaim = false;
        while (true)
        {
            var next = FinishAndTakeNext(worker, finished, started, mayClaim, out var retire, out var linger);
            if (linger)
            {
                next = Linger(worker, out retire);
            }

            if (next is null)
            {
                if (retire)
                {
                    return;
                }

                // Parked: woken with the next item, or with null to retire.
                next = await worker.WaitAsync().ConfigureAwait(false);
                if (next is null)
                {
                    return;
                }
            }

            started = BeginRun(next);
            var execution = next.ExecuteAsync(next.RunCts?.Token ?? _shutdownToken, _pipeline);
            while (true)
            {
                mayClaim = execution.IsCompletedSuccessfully;
                if (!mayClaim)
                {
                    // Claimed items never wait behind work that waits: give them back first.
                    if (worker.HasClaims)
                    {
                        ReturnClaims(worker);
                    }

                    await execution.ConfigureAwait(false);
                }

                if (!worker.HasClaims)
                {
                    break;
                }

                // An idle worker (a racy read: at worst one more item before the next look) could run what this one holds.
                if (_disposing || _idle.Count > 0)
                {
                    ReturnClaims(worker);
                    break;
                }

                next = FinishClaimedAndStartNext(worker, next, started);
                started = BeginRun(next);
                execution = next.ExecuteAsync(_shutdownToken, _pipeline);
            }

            finished = next;
        }
    }

    /// <summary>
    /// One step of a worker, outside its async state machine (per-item work stays in registers): accounts for the item
    /// it finished (and for the claimed items before it), then takes the next runnable item (and, when
    /// <paramref name="mayClaim"/>, claims a share of a deep queue), or parks the worker on the idle stack (returns
    /// <see langword="null"/>), or retires it (<paramref name="retire"/>).
    /// </summary>
    private WorkItem? FinishAndTakeNext(Worker worker, WorkItem? finished, long started, bool mayClaim, out bool retire, out bool linger)
    {
        WorkItem? next;
        var finishedOutcome = WorkOutcome.Succeeded;
        var hadFinished = finished is not null;
        var callerWaiting = finished is { CallerWaiting: true };
        WorkItemFailure? plainFailure = null;
        if (finished is { HasCallerToken: true })
        {
            finished.ReleaseRegistration();
        }

        lock (_lock)
        {
            if (worker.ClaimedTotal != 0)
            {
                // The claimed items have all ended: their room in the queue goes to submissions waiting for it.
                FoldClaimsLocked(worker);
                AdmitWaitersLocked();
            }

            if (finished is not null)
            {
                finishedOutcome = finished.Outcome;
                if (FinishLocked(finished, worker))
                {
                    finished = null; // recycled under the lock: nothing left to tell anyone
                }
                else if (finished is PlainWorkItem plain)
                {
                    // Released before the worker takes the next item, which may be a plain delegate for the same node.
                    plainFailure = plain.Release();
                    finished = null;
                }
            }

            // A worker whose finished item resumes a waiting caller does not linger: the caller's continuation is queued
            // to the thread pool, and this worker's thread, parked, is the one that can run it at once.
            next = TakeNextOrParkLocked(worker, mayClaim, mayLinger: mayClaim && !callerWaiting, out retire, out linger);
        }

        if (hadFinished && (started != 0 || WorkerPoolMetrics.Items.Enabled))
        {
            RecordRun(finishedOutcome, started);
        }

        if (plainFailure is { } failure)
        {
            ReportError(failure);
        }

        finished?.Complete();
        return next;
    }

    /// <summary>
    /// Takes the next runnable item, or lets the worker linger (<paramref name="linger"/>; only when
    /// <paramref name="mayLinger"/>), or parks it on the idle stack, or retires it (under the lock).
    /// </summary>
    private WorkItem? TakeNextOrParkLocked(Worker worker, bool mayClaim, bool mayLinger, out bool retire, out bool linger)
    {
        WorkItem? next = null;
        retire = false;
        linger = false;
        if (_stopped || _liveWorkers > _targetWorkers)
        {
            // A retiring worker must not strand a runnable item that its finished item's key just freed.
            _liveWorkers--;
            _workers.Remove(worker);
            retire = true;
            DispatchLocked();
        }
        else
        {
            next = TakeNextLocked(worker, mayClaim);
            if (next is null && mayLinger && TryLingerLocked(worker))
            {
                linger = true;
            }
            else if (next is null)
            {
                worker.PrepareToWait();
                _idle.Push(worker);
            }
        }

        CheckDrainedLocked();
        return next;
    }

    /// <summary>Records the item's queue wait and returns its start timestamp (0 when no one listens to durations).</summary>
    private long BeginRun(WorkItem item)
    {
        if (item.StartTimestamp != 0)
        {
            // Recorded here rather than where the item was dequeued: a metrics listener is user code, never run under the lock.
            WorkerPoolMetrics.WaitTime.Record(_timeProvider.GetElapsedTime(item.StartTimestamp).TotalSeconds, NameTag);
        }

        return WorkerPoolMetrics.Duration.Enabled ? _timeProvider.GetTimestamp() : 0;
    }

    private void RecordRun(WorkOutcome outcome, long started)
    {
        RecordOutcome(outcome);
        if (started != 0)
        {
            WorkerPoolMetrics.Duration.Record(_timeProvider.GetElapsedTime(started).TotalSeconds, NameTag);
        }
    }

    private void RecordOutcome(WorkOutcome outcome)
    {
        if (WorkerPoolMetrics.Items.Enabled)
        {
            var tag = outcome switch
            {
                WorkOutcome.Succeeded => "succeeded",
                WorkOutcome.Failed => "failed",
                _ => "cancelled",
            };
            WorkerPoolMetrics.Items.Add(1, NameTag, new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, tag));
        }
    }

    private async Task DisposeCoreAsync(TimeSpan drainDeadline)
    {
        if (drainDeadline == Timeout.InfiniteTimeSpan)
        {
            await _drained.Task.ConfigureAwait(false);
        }
        else
        {
            try
            {
                await _drained.Task.WaitAsync(drainDeadline, _timeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Off the caller's stack: with a zero deadline this point is reached synchronously inside DisposeAsync's
                // lock, and dropping waits for running cancellation callbacks that need that lock (RELIABILITY.md, bug 2).
                // Task.Run rather than a forced yield: Coyote's rewriter cannot handle ConfigureAwaitOptions.
                await Task.Run(CancelRemaining).ConfigureAwait(false);
                await _drained.Task.ConfigureAwait(false);
            }
        }

        Task[] workers;
        lock (_lock)
        {
            _stopped = true;
            while (_idle.Count > 0)
            {
                RetireLocked(_idle.Pop());
            }

            workers = [.. _workerTasks];
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
        _shutdownCts.Dispose();
    }

    /// <summary>The drain deadline passed: drop what is queued, cancel what runs.</summary>
    private void CancelRemaining()
    {
        List<object> dropped;
        var running = new List<CancellationTokenSource>();
        lock (_lock)
        {
            _deadlinePassed = true;
            dropped = TakeAllLocked();
            foreach (var entry in dropped)
            {
                if (entry is WorkItem item)
                {
                    item.State = WorkItemState.Done;
                }
            }

            _dropped += dropped.Count;
            foreach (var worker in _workers)
            {
                if (worker.Current?.RunCts is { } cts)
                {
                    running.Add(cts);
                }
            }

            CheckDrainedLocked();
        }

        _shutdownCts.Cancel();
        foreach (var cts in running)
        {
            cts.Cancel();
        }

        foreach (var entry in dropped)
        {
            Drop(entry, DropReason.DrainTimeout);
        }
    }

    /// <summary>
    /// Whether the caller is a work item of this pool. Read only where the answer changes the admission (an awaited item
    /// finding no idle worker, a full queue in <see cref="QueueFullMode.Wait"/> mode), not on every submission; reading an
    /// <see cref="AsyncLocal{T}"/> runs no user code, so it may happen under the lock.
    /// </summary>
    private bool IsNestedSubmission() => ReferenceEquals(s_currentPool.Value, this);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposing, this);

    private List<Worker> AddWorkersLocked(int count)
    {
        var started = new List<Worker>();
        _targetWorkers = Math.Max(_targetWorkers, _liveWorkers + count);
        for (var i = 0; i < count; i++)
        {
            var worker = new Worker(this);
            _workers.Add(worker);
            _liveWorkers++;
            started.Add(worker);
        }

        return started;
    }

    private void StartWorkers(List<Worker> workers)
    {
        if (workers.Count == 0)
        {
            return;
        }

        // Workers must not inherit the creator's execution context (its AsyncLocals would leak into every work item).
        using (ExecutionContext.SuppressFlow())
        {
            foreach (var worker in workers)
            {
                var task = Task.Run(() =>
                {
                    s_currentWorker.Value = worker;
                    return RunWorkerAsync(worker);
                });
                lock (_lock)
                {
                    _workerTasks.RemoveAll(static t => t.IsCompleted);
                    _workerTasks.Add(task);
                }
            }
        }
    }

    private void RetireLocked(Worker worker)
    {
        _liveWorkers--;
        _workers.Remove(worker);
        worker.Signal(null);
    }

    private bool IsRunnableLocked(WorkItem item) => item.Key is null || !_busyKeys.ContainsKey(item.Key);

    /// <summary>Whether a queue entry may start now: a plain delegate always, a node when its key is free.</summary>
    private bool IsRunnableLocked(object entry) => entry is not WorkItem item || IsRunnableLocked(item);

    private void StartLocked(WorkItem item, Worker worker)
    {
        item.State = WorkItemState.Running;
        if (item.Key is not null)
        {
            _busyKeys.Add(item.Key, true);
        }

        if (item.HasCallerToken)
        {
            item.RunCts ??= new CancellationTokenSource();
        }

        _running++;
        worker.Current = item;
        worker.Starts++;
    }

    private void StartInlineLocked(WorkItem item)
    {
        item.State = WorkItemState.Running;
        _running++;
    }

    /// <summary>Accounts for an item a worker ran; returns true when the item was a posted one recycled here.</summary>
    private bool FinishLocked(WorkItem item, Worker worker)
    {
        item.State = WorkItemState.Done;
        _running--;
        worker.Current = null;
        if (item.Key is not null)
        {
            _busyKeys.Remove(item.Key);
        }

        if (_deadlinePassed)
        {
            // The deadline may have collected this source to cancel it outside the lock: never reuse it.
            item.RunCts = null;
        }

        CountOutcomeLocked(item.Outcome);
        if (item is PostedWorkItem posted && item.Outcome != WorkOutcome.Failed && _freePostedCount < FreePostedLimit)
        {
            posted.ResetForReuse(this);
            posted.Next = _freePosted;
            _freePosted = posted;
            _freePostedCount++;
            return true;
        }

        return false;
    }

    private const int FreePostedLimit = 1024;

    private PostedWorkItem RentPostedLocked(object? key, Func<CancellationToken, ValueTask> work)
    {
        var item = _freePosted;
        if (item is null)
        {
            return PostedWorkItem.Create(this, key, work);
        }

        _freePosted = (PostedWorkItem?)item.Next;
        item.Next = null;
        _freePostedCount--;
        item.Reinitialize(key, work);
        return item;
    }

    private void CountOutcomeLocked(WorkOutcome outcome)
    {
        switch (outcome)
        {
            case WorkOutcome.Succeeded:
                _completed++;
                break;
            case WorkOutcome.Failed:
                _failed++;
                break;
            default:
                _cancelled++;
                break;
        }
    }

    /// <summary>
    /// Takes the first runnable queued item and starts it on <paramref name="worker"/>; when <paramref name="mayClaim"/>
    /// (the worker's last item did not wait), a deep queue and the item's kind allow, also claims a share behind it.
    /// </summary>
    private WorkItem? TakeNextLocked(Worker worker, bool mayClaim)
    {
        if (TakeFirstRunnableLocked() is not { } entry)
        {
            return null;
        }

        var item = worker.Arm(entry);
        StartLocked(item, worker);

        // The item taken ends through the claim path too, which releases no key and no token registration. No claim
        // while a worker is idle (it would be given back at once) or for less than two items each.
        if (mayClaim && item.Key is null && !item.HasCallerToken && !_disposing && !HasIdleWorkerLocked
            && _queued >= 2 * _liveWorkers)
        {
            ClaimLocked(worker);
        }

        AdmitWaitersLocked();
        return item;
    }

    /// <summary>Gives runnable queued items to idle workers (after a worker retired or a waiter was admitted).</summary>
    private void DispatchLocked()
    {
        while (HasIdleWorkerLocked && _queued > 0)
        {
            if (TakeFirstRunnableLocked() is not { } entry)
            {
                return;
            }

            StartOnIdleWorkerLocked(entry, out var item)?.Signal(item);
            AdmitWaitersLocked();
        }
    }

    /// <summary>
    /// Moves submissions waiting for room into the queue, in arrival order: nothing until the queue has drained to
    /// <see cref="_admitAtOrBelow"/>, then as many as fit.
    /// </summary>
    private void AdmitWaitersLocked()
    {
        if (_waitHead is null || _queued + _claimed > _admitAtOrBelow)
        {
            return;
        }

        var admittedAny = false;
        while (_waitHead is not null && _queued + _claimed < _capacity)
        {
            var item = _waitHead;
            UnlinkWaiterLocked(item);
            EnqueueLocked(item);
            admittedAny = true;
            if (item is PostedWorkItem { Waiter: { } waiter } posted)
            {
                posted.Waiter = null;

                // Completing the waiter only queues its continuation (RunContinuationsAsynchronously): no user code here.
                waiter.SetResult(PostResult.Accepted);
            }
        }

        if (admittedAny && HasIdleWorkerLocked)
        {
            DispatchLocked();
        }
    }

    private void AppendWaiterLocked(WorkItem item)
    {
        item.State = WorkItemState.Waiting;
        item.Next = null;
        item.Prev = _waitTail;
        if (_waitTail is null)
        {
            _waitHead = item;
        }
        else
        {
            _waitTail.Next = item;
        }

        _waitTail = item;
        _waiting++;
    }

    private void UnlinkWaiterLocked(WorkItem item)
    {
        if (item.Prev is null)
        {
            _waitHead = item.Next;
        }
        else
        {
            item.Prev.Next = item.Next;
        }

        if (item.Next is null)
        {
            _waitTail = item.Prev;
        }
        else
        {
            item.Next.Prev = item.Prev;
        }

        item.Prev = item.Next = null;
        _waiting--;
    }

    private void CheckDrainedLocked()
    {
        if (_disposing)
        {
            if (_queued == 0 && _claimed == 0 && _running == 0 && _waiting == 0)
            {
                _drained.TrySetResult();
            }

            if (_othersDrained is { Task.IsCompleted: false })
            {
                CheckOthersDrainedLocked();
            }
        }
    }
}
