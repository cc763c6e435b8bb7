using System.Diagnostics;
using Microsoft.Extensions.ObjectPool;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

// Locking: one lock, _gate, guards the open batch (_open), the flushed batches waiting for a handler slot (_ready), the
// running batches (_running), the spare batches, _pending, _batchSize, _sequence, the room signal, the flush waiters, the
// self-disposal state, the flush counters, _lifecycle and _ledger. A batch's slots belong to the lock until the batch
// starts; then only its worker touches them. The one exception is an armed open batch: submitters append to its armed
// slots without the lock (BatchProcessor.Appends.cs), and every holder of the lock that reads or changes the open batch
// settles it first, which takes those slots in. _handlerCalls is the one counter updated with Interlocked outside the
// lock.
// No user code runs under _gate: handlers, OnDropped/OnError, instruments and callers' continuations (their completions
// run asynchronously) all run after it is released; decisions taken under it leave their effects in an Effects value.
//
// The item's path, in file order: Submission (the public calls) -> Admission (the full-mode decision, sealing, starting)
// -> Timer (MaxDelay) / Cancellation (a caller's token) -> Execution (the handler calls, bisection, spans) -> Results
// (per-item outcomes) -> Adaptive sizing -> Flush (FlushAsync) -> Disposal (Complete, DisposeAsync, drain).

/// <summary>
/// Collects single items into batches and hands each batch to one bulk handler call; every submission gets its own
/// result (or exception). A batch is flushed when it reaches its size or when its oldest item has waited
/// <see cref="BatchProcessorOptions{TItem}.MaxDelay"/>, whichever comes first.
/// </summary>
/// <typeparam name="TItem">The type of the submitted items (for by-key handlers, the key).</typeparam>
/// <typeparam name="TResult">The type of each item's result.</typeparam>
/// <remarks>
/// <para>
/// The ledger: every accepted submission ends exactly once: with its result, with the handler's exception, cancelled by
/// its token while it waited, or dropped by the full mode or the drain timeout (reported to the caller, to
/// <see cref="BatchProcessorOptions{TItem}.OnDropped"/>, to the statistics and to the metrics).
/// </para>
/// <para>
/// Concurrency: one lock guards the open batch, the queue of flushed batches and the counters; it is held only for
/// bookkeeping, and a post or an uncancellable submission usually does not take it (it claims a slot of the open batch
/// with one atomic increment). The handler, the callbacks and the callers' continuations never run under it; results
/// complete asynchronously. Handler calls run on the thread pool, at most
/// <see cref="BatchProcessorOptions{TItem}.MaxDegreeOfParallelism"/> at a time, started in flush order.
/// </para>
/// <para>
/// The list a handler receives is a view over a pooled array and is valid only until the handler's task completes.
/// A batch mixes many callers, so the handler runs without any submitter's <see cref="ExecutionContext"/>
/// (AsyncLocal values do not flow into it); its <c>parallelexec.batch.flush</c> span links to every submitter's trace
/// context instead.
/// </para>
/// </remarks>
[DebuggerDisplay("BatchProcessor {Name}: pending = {_pending}, running = {_running.Count}")]
public sealed partial class BatchProcessor<TItem, TResult> : IExecComponent, IInstrumentedComponent
    where TItem : notnull
{
    // System.Threading.Lock where it exists: taken once per submission, it is cheaper than a Monitor. The Coyote test
    // build defines PARALLELEXEC_MONITOR_LOCK, because Coyote controls Monitor but not Lock (as in WorkerPool).
#if NET9_0_OR_GREATER && !PARALLELEXEC_MONITOR_LOCK
    private readonly Lock _gate = new();
#else
    private readonly object _gate = new();
#endif
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? _byPosition;
    private readonly Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? _byKey;
    private readonly BatchProcessorOptions<TItem> _options;
    private readonly TimeProvider _time;
    private readonly ITimer? _timer;
    private readonly ObjectPool<BatchItemSource<TItem, TResult>> _sources;
    private readonly Stack<PendingBatch<TItem, TResult>> _spareBatches = new();
    private readonly BatchQueue<PendingBatch<TItem, TResult>> _ready = new();
    private readonly List<PendingBatch<TItem, TResult>> _running = [];
    private readonly CancellationTokenSource _shutdown = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly ItemLedger _ledger = new();
    private readonly ItemReporter _reporter;
    private readonly ComponentInstruments _instruments;

    // Read on every submission: kept in fields rather than reached through the options and instruments objects.
    private readonly int _queueCapacity;
    private readonly System.Diagnostics.Metrics.Counter<long> _submittedCounter;
    private readonly BatchInstruments _batchInstruments;
    private readonly Action<object?, CancellationToken> _onCancel;
    private readonly ContextCallback _runWorkerCallback;
    private ExecutionContext? _handlerContext;

    private PendingBatch<TItem, TResult> _open;
    private TaskCompletionSource? _roomAvailable;
    private List<(long Sequence, TaskCompletionSource Done)>? _flushWaiters;

    // Self-disposal (DisposeAsync called from a handler): how many such calls wait, and the task they return.
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    // Slots (distinct items) waiting for a handler call, in the open batch and in _ready: what QueueCapacity bounds.
    // The ledger's Queued counts submissions instead (coalesced submissions share a slot).
    private int _pending;
    private int _batchSize;
    private long _sequence;

    private long _coalesced;
    private long _bySize;
    private long _byTime;
    private long _byRequest;
    private long _onDispose;
    private long _lastLatencyTicks;

    // Updated with Interlocked outside the lock, once per handler call.
    private long _handlerCalls;

    /// <summary>
    /// Creates a processor whose handler returns one result per item, by position: result <c>i</c> belongs to item <c>i</c>.
    /// </summary>
    /// <param name="handler">
    /// The bulk handler. It receives a read-only list of distinct items (valid until its task completes) and the
    /// processor's shutdown token, and returns exactly as many results, in the same order.
    /// </param>
    /// <param name="options">The options; they are validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public BatchProcessor(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> handler,
        BatchProcessorOptions<TItem> options)
        : this(options, handler ?? throw new ArgumentNullException(nameof(handler)), null)
    {
    }

    private BatchProcessor(
        BatchProcessorOptions<TItem> options,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? byPosition,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? byKey)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        (_byPosition, _byKey) = WithResultPipeline(_options.ResultResiliencePipeline, byPosition, byKey);
        _time = _options.TimeProvider;
        _batchSize = _options.MaxBatchSize;
        _instruments = ComponentInstruments.Get("batch", _options.MeterFactory);
        _submittedCounter = _instruments.Submitted;
        _queueCapacity = _options.QueueCapacity;
        _batchInstruments = BatchInstruments.For(_instruments);
        _reporter = new ItemReporter(_options.Name, _time, _instruments, _options.OnDropped, _options.OnError);
        _onCancel = OnCancelled;
        // Cannot fault: RunWorkerAsync hands every failure to the batch's items.
        _runWorkerCallback = state => _ = RunWorkerAsync((PendingBatch<TItem, TResult>)state!);

        // Every awaited item in flight holds one source: up to the queue plus the running batches. Sources above that
        // (a burst) are simply left to the garbage collector.
        var retained = Math.Min(int.MaxValue / 2, (long)_options.QueueCapacity + ((long)_options.MaxBatchSize * _options.MaxDegreeOfParallelism));
        var policy = new BatchItemSource<TItem, TResult>.Policy();
        _sources = new DefaultObjectPool<BatchItemSource<TItem, TResult>>(policy, (int)retained);
        policy.Pool = _sources;

        _open = NewBatch();
        _timer = CreateTimer();
        _instruments.Live.Add(this);
    }

    /// <summary>Gets the processor's name (<see cref="ComponentOptions.Name"/>): the tag of its metrics and spans.</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Gets a task that completes when intake has stopped (<see cref="Complete"/> or <see cref="DisposeAsync"/>) and every
    /// accepted item has ended. It completes successfully even when items failed or were dropped: those are reported
    /// per item.
    /// </summary>
    public Task Completion => _lifecycle.Completion;

    /// <summary>Gets the <see cref="TelemetryTagNames.Name"/> tag, created once.</summary>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <summary>Gets whether the calling thread holds the processor's lock; tests use it to prove no user code runs under it.</summary>
    internal bool IsLockHeldByCurrentThread => IsGateHeld();

    /// <summary>
    /// Creates a processor whose handler returns results by key (DataLoader style): the dictionary maps items to results.
    /// An item missing from the dictionary gets what <see cref="BatchProcessorOptions{TItem}.MissingKeyBehavior"/> says.
    /// </summary>
    /// <param name="handler">
    /// The bulk handler. It receives a read-only list of distinct items (valid until its task completes) and the
    /// processor's shutdown token, and returns a dictionary keyed by item.
    /// </param>
    /// <param name="options">The options; they are validated and copied.</param>
    /// <returns>The processor; dispose it to flush and drain.</returns>
    /// <remarks>A factory rather than a constructor overload, so that a lambda fitting both handler shapes is never ambiguous.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="handler"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public static BatchProcessor<TItem, TResult> CreateByKey(
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>> handler,
        BatchProcessorOptions<TItem> options)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return new BatchProcessor<TItem, TResult>(options, null, handler);
    }

    /// <summary>Returns a snapshot of the processor's ledger and batching counters.</summary>
    /// <returns>The statistics at the time of the call.</returns>
    public BatchProcessorStatistics GetStatistics()
    {
        var effects = default(Effects);
        BatchProcessorStatistics statistics;
        lock (_gate)
        {
            // Appended items count once settled; a batch the appends filled is sealed and started on the way.
            SettleOpenLocked(ref effects);
            ArmOpenLocked();
            statistics = new BatchProcessorStatistics(Name, _ledger.Snapshot())
            {
                Coalesced = _coalesced,
                RunningBatches = _running.Count,
                FlushedBySize = _bySize,
                FlushedByTime = _byTime,
                FlushedByRequest = _byRequest,
                FlushedOnDispose = _onDispose,
                HandlerCalls = Interlocked.Read(ref _handlerCalls),
                CurrentBatchSize = _batchSize,
                LastBatchLatency = TimeSpan.FromTicks(_lastLatencyTicks),
            };
            AssertInvariants();
        }

        Apply(in effects);
        return statistics;
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        var effects = default(Effects);
        LedgerSnapshot ledger;
        lock (_gate)
        {
            SettleOpenLocked(ref effects);
            ArmOpenLocked();
            ledger = _ledger.Snapshot();
        }

        Apply(in effects);
        return ledger;
    }

    /// <summary>
    /// Wraps the handler, once, in the result-typed pipeline the builder set, so that a handler call goes through it with
    /// no per-call cost beyond the pipeline's own (the non-generic pipeline is applied per call in InvokeAsync).
    /// </summary>
    private static (Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>?, Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>?) WithResultPipeline(
        object? pipeline,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? byPosition,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? byKey)
    {
        switch (pipeline)
        {
            case null:
                return (byPosition, byKey);
            case Polly.ResiliencePipeline<IReadOnlyList<TResult>> typed when byPosition is not null:
                return ((items, token) => typed.ExecuteAsync(static (state, ct) => state.Handler(state.Items, ct), (Handler: byPosition, Items: items), token), null);
            case Polly.ResiliencePipeline<IReadOnlyDictionary<TItem, TResult>> typed when byKey is not null:
                return (null, (items, token) => typed.ExecuteAsync(static (state, ct) => state.Handler(state.Items, ct), (Handler: byKey, Items: items), token));
            default:
                throw new ArgumentException($"The result-typed resilience pipeline ({pipeline.GetType()}) does not fit this processor's handler.", "options");
        }
    }

#if NET9_0_OR_GREATER && !PARALLELEXEC_MONITOR_LOCK
    private bool IsGateHeld() => _gate.IsHeldByCurrentThread;
#else
    private bool IsGateHeld() => Monitor.IsEntered(_gate);
#endif

    private PendingBatch<TItem, TResult> NewBatch() =>
        new(this, _options.MaxBatchSize, _options.Comparer, _options.Coalesce);

    /// <summary>
    /// Checks, under the lock, that the ledger balances and agrees with the batches: the open and ready batches hold
    /// <see cref="_pending"/> slots and the queued submissions, the running ones the submissions in flight.
    /// </summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(IsGateHeld(), "AssertInvariants runs under the lock.");
        _ledger.AssertBalanced();
        long slots = _open.Count, queued = _open.Submissions, inFlight = 0;
        for (var i = 0; i < _ready.Count; i++)
        {
            slots += _ready[i].Count;
            queued += _ready[i].Submissions;
        }

        foreach (var running in _running)
        {
            inFlight += running.Submissions;
        }

        Debug.Assert(slots == _pending, $"{slots} slots in the batches, {_pending} counted.");
        Debug.Assert(queued == _ledger.Queued, $"{queued} submissions queued in the batches, {_ledger.Queued} in the ledger.");
        Debug.Assert(inFlight == _ledger.InFlight, $"{inFlight} submissions in running batches, {_ledger.InFlight} in the ledger.");
        Debug.Assert(_running.Count <= _options.MaxDegreeOfParallelism, $"{_running.Count} batches running.");
    }
}
