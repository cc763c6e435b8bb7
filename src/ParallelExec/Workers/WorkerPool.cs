using System.Diagnostics;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Workers;

// Locking: one lock, _lock, guards the queue (the ring and its counters, WorkerPool.Queue.cs), the list of submitters
// waiting for room (_waiters), the workers (_idle, _workers, _lingerer, _targetWorkers, _liveWorkers), the busy keys, the
// ledger (_ledger), the claim fold (_claimed), the free list of posted nodes, the lifecycle (_lifecycle, _drainTimedOut,
// the self-disposers) and every WorkItem.State. No user code runs under it: work, callbacks (OnDropped, OnError), token
// registrations and metric listeners all run after it is released, and every completion signalled under it continues
// asynchronously. A worker's claimed items and claim counters (Worker.cs) are that worker's alone between two folds.
//
// One item's path, in file order: WorkerPool.cs (the public calls) -> WorkerPool.Admission.cs (idle worker, queue, full
// mode, waiting list, inline) -> WorkerPool.Queue.cs (the ring) -> WorkerPool.Workers.cs (a worker takes it, runs it,
// accounts for it) -> WorkerPool.Telemetry.cs (its span, durations and reports) -> WorkerPool.Lifecycle.cs (Complete,
// DisposeAsync, drain timeout). WorkerPool.Claims.cs and WorkerPool.Linger.cs are the two fast paths of the worker loop;
// WorkerPool.Sequences.cs runs a whole sequence (ProcessAsync).

/// <summary>
/// A fixed (but resizable) number of workers over a bounded queue of work items. Await a result with
/// <see cref="RunAsync{T}(Func{CancellationToken, ValueTask{T}}, CancellationToken)"/>, post fire-and-forget work with
/// <see cref="TryPost(Func{CancellationToken, ValueTask})"/> or <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/>,
/// keep per-key order with the keyed overloads, or process a whole sequence with
/// <see cref="ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>.
/// </summary>
/// <remarks>
/// <para><b>Ledger.</b> Every submitted item ends exactly once: it succeeds, fails (an awaiting caller gets the exception;
/// a posted item's failure goes to <see cref="WorkerPoolOptions.OnError"/>, or without one to its span), is cancelled
/// (a posted one is reported to <see cref="WorkerPoolOptions.OnDropped"/> with <see cref="DropReason.Cancelled"/>), or is
/// dropped/rejected by the <see cref="WorkerPoolOptions.FullMode"/> or the drain timeout (reported to
/// <see cref="WorkerPoolOptions.OnDropped"/>, to the statistics and metrics, and to its submitter:
/// <see cref="ItemDroppedException"/> for awaited items, a <see cref="PostResult"/> for posted ones).</para>
/// <para><b>Lifecycle.</b> <see cref="Complete"/> stops intake (submitters still waiting for room are refused) and
/// <see cref="Completion"/> ends when every accepted item has ended. <see cref="DisposeAsync"/> completes, drains within
/// <see cref="ComponentOptions.DrainTimeout"/>, then drops what is queued and cancels the tokens of what runs.</para>
/// <para><b>Cancellation.</b> Cancelling the token of a queued item (or of a submission waiting for room) removes it at
/// once: the item is unlinked from the queue, its slot is freed for the next waiting submission, and an awaiting caller
/// completes as cancelled. Cancelling the token of a running item cancels the token the work receives.</para>
/// <para><b>Nested submissions.</b> A work item running on this pool that submits to the same pool (detected through
/// the flow's ambient pool, set on the workers) must not wait for a worker that may never come. So an awaited nested
/// submission (<c>RunAsync</c>, <c>ProcessAsync</c>) that cannot start at once on an idle worker runs inline on the calling
/// work item (caller-runs), bypassing the queue, its capacity and per-key ordering; a nested
/// <see cref="PostAsync(Func{CancellationToken, ValueTask}, CancellationToken)"/> that finds the queue full in
/// <see cref="QueueFullMode.Wait"/> mode runs the item inline and returns <see cref="PostResult.RanInline"/>. Work runs
/// in the workers' execution context, not the submitter's.</para>
/// <para><b>Tracing.</b> When an <see cref="ActivityListener"/> listens to the <c>ParallelExec</c> source, each item runs
/// in a <c>parallelexec.workerpool.item</c> span whose parent is the submitter's activity, captured at submission.</para>
/// <para><b>Threading.</b> One lock guards the queue; no user code (work, callbacks, token callbacks) runs under it, and
/// every completion the pool signals continues asynchronously. Under load a worker takes up to 16 items without a key or
/// a cancellable token in one acquisition of the lock and runs them one after another; it gives back those it has not
/// started as soon as one of them waits, another worker is idle, or intake stops, and until they start they count
/// as queued, so the statistics, the capacity and the drain see them as before. Only the full modes' eviction differs:
/// <see cref="QueueFullMode.DropOldest"/> evicts the oldest item no worker has claimed (claimed ones are about to
/// run). On a machine with more than one processor, a worker that ran an item which completed synchronously and finds
/// nothing to run stays awake for up to 20 µs, yielding its processor between looks, before it parks: a submission in
/// that time is handed to it without a thread-pool wake-up.</para>
/// </remarks>
[DebuggerDisplay("{DebuggerDisplay,nq}")]
public sealed partial class WorkerPool : IExecComponent
{
    // System.Threading.Lock where it exists: cheaper to take than a Monitor on every submission and hand-off. The Coyote
    // test build defines PARALLELEXEC_MONITOR_LOCK, because Coyote controls Monitor but not Lock (RELIABILITY.md).
#if NET9_0_OR_GREATER && !PARALLELEXEC_MONITOR_LOCK
    private readonly Lock _lock = new();
#else
    private readonly object _lock = new();
#endif

    // The end counters, Submitted and InFlight. Queued is not kept there: it is the ring's count, the claimed items not
    // yet started and the waiting submitters, read together under the lock (ReadLedgerLocked), because a worker starts
    // its claimed items without the lock.
    private readonly ItemLedger _ledger = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly int _capacity;

    // Waiting submissions are admitted once the queue has drained to this length, then up to capacity in one burst: a
    // producer that outpaces the workers is woken once per burst instead of once per item.
    private readonly int _admitAtOrBelow;
    private readonly QueueFullMode _fullMode;
    private readonly ResiliencePipeline? _pipeline;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _drainTimeout;
    private readonly CancellationTokenSource _shutdownCts = new();

    // Read once: the worker loop passes it to every item that has no token of its own.
    private readonly CancellationToken _shutdownToken;
    private readonly Stack<Worker> _idle = new();
    private readonly List<Worker> _workers = [];
    private readonly List<Task> _workerTasks = [];
    private readonly Dictionary<object, bool> _busyKeys = [];

    // Submissions waiting for room in a full queue (QueueFullMode.Wait), in arrival order; O(1) to remove on cancel.
    private readonly WaitList<WorkItem> _waiters = new();

    // Posted items without a cancellable token are rented and recycled under the queue lock, which both sides take
    // anyway: no interlocked traffic between the producer's core and the workers' on the fire-and-forget hot path.
    private PostedWorkItem? _freePosted;
    private int _freePostedCount;

    private int _targetWorkers;
    private int _liveWorkers;
    private int _peakQueued;

    // Set under the lock when the drain timeout has passed: what ends cancelled from then on was cut by it.
    private bool _drainTimedOut;

    /// <summary>Creates a pool and starts its workers.</summary>
    /// <param name="options">The configuration; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public WorkerPool(WorkerPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        _capacity = options.QueueCapacity;
        _admitAtOrBelow = _capacity - Math.Max(1, _capacity / 2);
        _fullMode = options.FullMode;
        _pipeline = options.ResiliencePipeline;
        _timeProvider = options.TimeProvider;
        _drainTimeout = options.DrainTimeout;
        _shutdownToken = _shutdownCts.Token;
        Name = options.Name;
        if (options.PriorityLanes > 1)
        {
            _lanes = new WaitList<WorkItem>[options.PriorityLanes];
            for (var lane = 1; lane < _lanes.Length; lane++)
            {
                _lanes[lane] = new WaitList<WorkItem>();
            }

            _laneCounters = new LaneCounters[options.PriorityLanes];
            _passedOver = new int[options.PriorityLanes];
            _starvationLimit = options.StarvationLimit;
        }

        _instruments = ComponentInstruments.Get(InstrumentsComponent, options.MeterFactory);
        _reporter = new ItemReporter(Name, _timeProvider, _instruments, options.OnDropped, options.OnError);
        _submittedCounter = _instruments.Submitted;
        _waitDuration = _instruments.WaitDuration;
        _runDuration = _instruments.RunDuration;

        List<Worker> started;
        lock (_lock)
        {
            started = AddWorkersLocked(options.MaxDegreeOfParallelism);
        }

        StartWorkers(started);
        RegisterInstruments();
    }

    /// <summary>Gets the pool's name (<see cref="ComponentOptions.Name"/>).</summary>
    public string Name { get; }

    /// <summary>Gets how many items the pool runs at once at most: the number of workers it is sized to.</summary>
    public int MaxDegreeOfParallelism
    {
        get
        {
            lock (_lock)
            {
                return _targetWorkers;
            }
        }
    }

    /// <inheritdoc/>
    public Task Completion => _lifecycle.Completion;

    private string DebuggerDisplay => $"{Name}: workers = {_targetWorkers}, queued = {_queued + _claimed}, running = {_ledger.InFlight}";

    /// <summary>Runs <paramref name="work"/> on a worker and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work; it receives a token cancelled when <paramref name="cancellationToken"/> is cancelled
    /// while it runs, or when the drain timeout of a disposal passes.</param>
    /// <param name="cancellationToken">Cancels the submission: while it waits for room or sits in the queue the item is
    /// removed and the returned task completes as cancelled; while it runs, the work's token is cancelled.</param>
    /// <returns>The work's result. Faults with the work's exception, with <see cref="ItemDroppedException"/> when the
    /// queue policy or the drain timeout dropped the item, or with <see cref="ObjectDisposedException"/> (or
    /// <see cref="InvalidOperationException"/> after <see cref="Complete"/>) when intake stopped while the submission waited
    /// for room. The value task must be awaited exactly once.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (through the returned task).</exception>
    public ValueTask RunAsync(object key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return SubmitAwaitedVoid(key, work, cancellationToken);
    }

    /// <summary>
    /// Posts fire-and-forget work without ever waiting. Its failure goes to <see cref="WorkerPoolOptions.OnError"/>
    /// (or, without one, to the item's span).
    /// </summary>
    /// <param name="work">The work; it receives a token cancelled when the drain timeout of a disposal passes.</param>
    /// <returns><see cref="PostResult.Accepted"/>, <see cref="PostResult.AcceptedAfterDrop"/>,
    /// <see cref="PostResult.Rejected"/> (full, <see cref="QueueFullMode.Reject"/>), or <see cref="PostResult.QueueFull"/>
    /// (full, <see cref="QueueFullMode.Wait"/>: nothing was taken).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
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
    /// <param name="work">The work; it receives a token cancelled by <paramref name="cancellationToken"/> or the drain timeout.</param>
    /// <param name="cancellationToken">Cancels the wait for room (the task completes as cancelled), removes the item if it
    /// is still queued (counted as cancelled, and reported to <see cref="WorkerPoolOptions.OnDropped"/> with
    /// <see cref="DropReason.Cancelled"/>), and reaches the work's token while it runs.</param>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting (through the returned task).</exception>
    public ValueTask<PostResult> PostAsync(object key, Func<CancellationToken, ValueTask> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(work);
        return PostAsyncCore(key, work, cancellationToken);
    }


    /// <summary>
    /// Changes how many items run at once while the pool runs. New workers start at once; when shrinking, idle workers
    /// retire at once and busy ones retire when their current item ends (no running item is interrupted).
    /// </summary>
    /// <param name="maxDegreeOfParallelism">The new number of workers.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is zero or negative.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    public void SetMaxDegreeOfParallelism(int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        List<Worker> started;
        lock (_lock)
        {
            if (_lifecycle.IsDisposing)
            {
                throw _lifecycle.CreateClosedException(Name);
            }

            _targetWorkers = maxDegreeOfParallelism;
            started = AddWorkersLocked(maxDegreeOfParallelism - _liveWorkers);
            while (_liveWorkers > _targetWorkers && _idle.Count > 0)
            {
                RetireLocked(_idle.Pop());
            }
        }

        StartWorkers(started);
    }

    /// <summary>Returns a consistent snapshot of the pool: its ledger and its extras, read at one instant.</summary>
    /// <returns>The snapshot.</returns>
    public WorkerPoolStatistics GetStatistics()
    {
        lock (_lock)
        {
            var ledger = ReadLedgerLocked();
            return new WorkerPoolStatistics(Name, ledger, _targetWorkers, _peakQueued, _waiters.Count, ReadLanesLocked(ledger));
        }
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <summary>Checks, under the lock, what every state change must keep (Debug builds only).</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        var ledger = ReadLedgerLocked();
        Debug.Assert(ledger.IsBalanced, $"Unbalanced ledger: {ledger}.");
        Debug.Assert(_queued >= 0 && _claimed >= 0 && _ledger.InFlight >= 0, $"Negative count: queued {_queued}, claimed {_claimed}, in flight {_ledger.InFlight}.");
        Debug.Assert(_queued + _claimed <= _capacity, $"Over capacity: queued {_queued} + claimed {_claimed} > {_capacity}.");
        Debug.Assert(_waiters.Count == 0 || (_fullMode == QueueFullMode.Wait && _lifecycle.IsOpen), "Only an open pool in Wait mode has waiting submitters.");
    }
}
