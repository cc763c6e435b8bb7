using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.ObjectPool;
using ParallelExec.Internal;

namespace ParallelExec.Batching;

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
/// its token while it waited, or dropped by the full mode or the disposal deadline (reported to the caller, to
/// <see cref="BatchProcessorOptions{TItem}.OnDropped"/>, to the statistics and to the metrics).
/// </para>
/// <para>
/// Concurrency: one lock guards the open batch, the queue of flushed batches and the counters; it is held only for
/// bookkeeping. The handler, the callbacks and the callers' continuations never run under it; results complete
/// asynchronously. Handler calls run on the thread pool, at most
/// <see cref="BatchProcessorOptions{TItem}.MaxConcurrentBatches"/> at a time, started in flush order.
/// </para>
/// <para>
/// The list a handler receives is a view over a pooled array and is valid only until the handler's task completes.
/// A batch mixes many callers, so the handler runs without any submitter's <see cref="ExecutionContext"/>
/// (AsyncLocal values do not flow into it).
/// </para>
/// </remarks>
[DebuggerDisplay("BatchProcessor {_options.Name}: pending = {_pending}, running = {_running.Count}")]
public sealed class BatchProcessor<TItem, TResult> : IAsyncDisposable
    where TItem : notnull
{
    // Marks the handlers' async flow as this processor's, so that DisposeAsync can tell it is called from a handler.
    // Never changed per batch: handler workers run in one context built once (see RunWorker).
    private static readonly AsyncLocal<BatchProcessor<TItem, TResult>?> s_currentProcessor = new();

    private readonly object _gate = new();
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
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<object?, CancellationToken> _onCancel;
    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly ContextCallback _runWorkerCallback;
    private ExecutionContext? _handlerContext;

    private PendingBatch<TItem, TResult> _open;
    private TaskCompletionSource? _roomAvailable;
    private List<(long Sequence, TaskCompletionSource Done)>? _flushWaiters;
    private TaskCompletionSource? _disposal;
    private volatile bool _disposed;

    // Self-disposal (DisposeAsync called from a handler): how many such calls wait, and the task they return. Guarded by _gate.
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;
    private int _pending;
    private int _batchSize;
    private long _sequence;

    // Guarded by _gate.
    private long _submitted;
    private long _coalesced;
    private long _cancelled;
    private long _dropped;
    private long _bySize;
    private long _byTime;
    private long _byRequest;
    private long _onDispose;
    private long _lastLatencyTicks;

    // Updated with Interlocked outside the lock, once per handler call.
    private long _succeeded;
    private long _failed;
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

    private BatchProcessor(
        BatchProcessorOptions<TItem> options,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>>? byPosition,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyDictionary<TItem, TResult>>>? byKey)
    {
        _options = Validate(options);
        _byPosition = byPosition;
        _byKey = byKey;
        _time = _options.TimeProvider;
        _batchSize = _options.MaxBatchSize;
        _nameTag = new(TelemetryTagNames.Name, _options.Name);
        _onCancel = OnCancelled;
        _runWorkerCallback = state => _ = RunWorkerAsync((PendingBatch<TItem, TResult>)state!);

        // Every awaited item in flight holds one source: up to the queue plus the running batches. Sources above that
        // (a burst) are simply left to the garbage collector.
        var retained = Math.Min(int.MaxValue / 2, (long)_options.QueueCapacity + ((long)_options.MaxBatchSize * _options.MaxConcurrentBatches));
        var policy = new BatchItemSource<TItem, TResult>.Policy();
        _sources = new DefaultObjectPool<BatchItemSource<TItem, TResult>>(policy, (int)retained);
        policy.Pool = _sources;

        _open = NewBatch();
        if (_options.MaxDelay != Timeout.InfiniteTimeSpan)
        {
            // One timer, re-armed for each batch that opens; the callback checks the open batch's age, so a stale
            // firing only re-arms. Suppress flow so the timer does not keep the creator's AsyncLocals alive.
            var restoreFlow = !ExecutionContext.IsFlowSuppressed();
            var flow = restoreFlow ? ExecutionContext.SuppressFlow() : default;
            try
            {
                _timer = _time.CreateTimer(static state => ((BatchProcessor<TItem, TResult>)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            finally
            {
                if (restoreFlow)
                {
                    flow.Undo();
                }
            }
        }
    }

    private enum EnqueueResult
    {
        Accepted,
        Full,
        Rejected,
        Cancelled,
        Disposed,
    }

    /// <summary>Gets the processor's name (<see cref="BatchProcessorOptions{TItem}.Name"/>).</summary>
    public string? Name => _options.Name;

    /// <summary>
    /// Submits one item and returns a task that completes with its result when its batch has been handled.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">
    /// Cancels the wait: while the item waits for its batch to start, cancelling takes it out of the batch and the task
    /// ends cancelled. Once its batch has started, the handler's token governs and this token is ignored.
    /// </param>
    /// <returns>
    /// The item's result. Await it exactly once (it is backed by a pooled object). It fails with the handler's exception,
    /// a <see cref="KeyNotFoundException"/> (by-key handler without the item's key), an <see cref="ItemDroppedException"/>
    /// (the full mode or the disposal deadline dropped it), or an <see cref="OperationCanceledException"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the item's batch started (through the returned task).</exception>
    public ValueTask<TResult> SubmitAsync(TItem item, CancellationToken cancellationToken = default)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        var caller = _sources.Get();
        var task = caller.AsValueTask();
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the caller can be seen by a batch, so the callback never sees a recycled source.
            caller.Token = cancellationToken;
            caller.Registration = cancellationToken.UnsafeRegister(_onCancel, caller);
        }

        var effects = default(Effects);
        var result = Enqueue(item, caller, ref effects);
        Apply(in effects);
        return result switch
        {
            EnqueueResult.Accepted => task,
            EnqueueResult.Full => SubmitWhenRoomAsync(item, caller, effects.Room!, cancellationToken),
            _ => Refuse(item, caller, result, cancellationToken),
        };
    }

    /// <summary>
    /// Submits several items and returns their results in input order once every one of them has completed.
    /// </summary>
    /// <param name="items">The items.</param>
    /// <param name="cancellationToken">Cancels the items that have not started yet (see <see cref="SubmitAsync"/>).</param>
    /// <returns>The results, in the order of <paramref name="items"/>.</returns>
    /// <remarks>Every item is awaited before this returns; if some failed, the first failure in input order is thrown.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> cancelled an item before its batch started.</exception>
    public async ValueTask<IReadOnlyList<TResult>> SubmitManyAsync(IEnumerable<TItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var submitted = items is IReadOnlyCollection<TItem> collection
            ? new List<ValueTask<TResult>>(collection.Count)
            : [];
        ExceptionDispatchInfo? refused = null;
        try
        {
            foreach (var item in items)
            {
                submitted.Add(SubmitAsync(item, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is ArgumentNullException or ObjectDisposedException)
        {
            // The items already submitted still end in the ledger; observe them before reporting.
            refused = ExceptionDispatchInfo.Capture(ex);
        }

        var results = new TResult[submitted.Count];
        ExceptionDispatchInfo? firstFailure = null;
        for (var i = 0; i < submitted.Count; i++)
        {
            try
            {
                results[i] = await submitted[i].ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                firstFailure ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        refused?.Throw();
        firstFailure?.Throw();
        return results;
    }

    /// <summary>
    /// Posts one item, fire-and-forget, without waiting for room: its result is discarded and a failure goes to
    /// <see cref="BatchProcessorOptions{TItem}.OnError"/>.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <returns>
    /// <see langword="true"/> when the item was accepted; <see langword="false"/> when the queue was full in
    /// <see cref="QueueFullMode.Wait"/> mode (the item was not taken; try again or use <see cref="PostAsync"/>) or the
    /// item was rejected in <see cref="QueueFullMode.Reject"/> mode (reported to <see cref="BatchProcessorOptions{TItem}.OnDropped"/>).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    public bool TryPost(TItem item)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        var effects = default(Effects);
        var result = Enqueue(item, null, ref effects);
        Apply(in effects);
        switch (result)
        {
            case EnqueueResult.Accepted:
                return true;
            case EnqueueResult.Rejected:
                NotifyDropped(item, DropReason.Rejected, 1);
                return false;
            case EnqueueResult.Disposed:
                throw new ObjectDisposedException(GetType().FullName);
            default:
                return false;
        }
    }

    /// <summary>
    /// Posts one item, fire-and-forget, waiting for room when the queue is full in <see cref="QueueFullMode.Wait"/> mode:
    /// its result is discarded and a failure goes to <see cref="BatchProcessorOptions{TItem}.OnError"/>.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Cancels the wait for room (only; a posted item is not cancellable).</param>
    /// <returns>
    /// <see langword="true"/> when the item was accepted; <see langword="false"/> when it was rejected in
    /// <see cref="QueueFullMode.Reject"/> mode (reported to <see cref="BatchProcessorOptions{TItem}.OnDropped"/>).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting for room.</exception>
    public ValueTask<bool> PostAsync(TItem item, CancellationToken cancellationToken = default)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        ObjectDisposedException.ThrowIf(_disposed, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        var effects = default(Effects);
        var result = Enqueue(item, null, ref effects);
        Apply(in effects);
        switch (result)
        {
            case EnqueueResult.Accepted:
                return new ValueTask<bool>(true);
            case EnqueueResult.Full:
                return PostWhenRoomAsync(item, effects.Room!, cancellationToken);
            case EnqueueResult.Rejected:
                NotifyDropped(item, DropReason.Rejected, 1);
                return new ValueTask<bool>(false);
            default:
                throw new ObjectDisposedException(GetType().FullName);
        }
    }

    /// <summary>
    /// Flushes the open batch now and waits until every batch flushed before this call (including it) has been handled.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the flush itself has happened).</param>
    /// <returns>A task that completes when those batches have been handled.</returns>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var effects = default(Effects);
        Task? wait = null;
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_open.Count > 0)
            {
                effects.Start = SealLocked(BatchFlushReason.Forced, ref effects);
            }

            if (HasOutstandingLocked(_sequence))
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                (_flushWaiters ??= []).Add((_sequence, done));
                wait = done.Task;
            }
        }

        Apply(in effects);
        return wait is null ? default : new ValueTask(wait.WaitAsync(cancellationToken));
    }

    /// <summary>Returns a snapshot of the processor's counters.</summary>
    /// <returns>The statistics at the time of the call.</returns>
    public BatchProcessorStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new BatchProcessorStatistics
            {
                Name = _options.Name,
                Submitted = _submitted,
                Coalesced = _coalesced,
                Succeeded = Interlocked.Read(ref _succeeded),
                Failed = Interlocked.Read(ref _failed),
                Cancelled = _cancelled,
                Dropped = _dropped,
                Pending = _pending,
                RunningBatches = _running.Count,
                FlushedBySize = _bySize,
                FlushedByTime = _byTime,
                FlushedByRequest = _byRequest,
                FlushedOnDispose = _onDispose,
                HandlerCalls = Interlocked.Read(ref _handlerCalls),
                CurrentBatchSize = _batchSize,
                LastBatchLatency = TimeSpan.FromTicks(_lastLatencyTicks),
            };
        }
    }

    /// <summary>
    /// Stops intake, flushes the open batch and waits until every pending item has been handled. Idempotent: later calls
    /// wait for the same drain. With <see cref="BatchProcessorOptions{TItem}.DisposeTimeout"/>, when the deadline passes
    /// the handler's token is cancelled and batches that have not started are dropped with
    /// <see cref="DropReason.DrainTimeout"/>.
    /// </summary>
    /// <returns>A task that completes when the processor has drained (called from a handler of this processor: when
    /// everything else has drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from a handler.</b> A handler of this processor (or anything on its async flow) that awaits the
    /// processor's disposal would wait for its own batch forever. Such a call is detected (handlers run in an execution
    /// context that marks them, built once per processor) and behaves differently in one point only: it starts the
    /// disposal as usual (intake stops, the open batch is flushed, <see cref="BatchProcessorOptions{TItem}.DisposeTimeout"/>
    /// applies to every batch, the caller's included), but the task it returns does not wait for the calling handler
    /// call. It completes once every running handler call has ended except the calls waiting in such a
    /// <c>DisposeAsync</c> (counted per call, so that two handlers disposing the processor at once do not wait for each
    /// other) and no queued batch can start: batches still queued then need a handler slot that only a caller frees
    /// (every slot runs a caller), and they are handled after it, as part of the drain.</para>
    /// <para>Calls from outside (the first or later ones) return the full drain: it completes only when every item, those
    /// of the batches whose handlers called <c>DisposeAsync</c> included, has ended.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromInside = ReferenceEquals(s_currentProcessor.Value, this);
        var effects = default(Effects);
        TaskCompletionSource? started = null;
        Task disposal;
        Task? othersDrained = null;
        var drained = false;
        lock (_gate)
        {
            if (_disposal is null)
            {
                started = _disposal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _disposed = true;
                if (_open.Count > 0)
                {
                    effects.Start = SealLocked(BatchFlushReason.Dispose, ref effects);
                }

                // Wake submitters waiting for room: they will see the processor disposed.
                effects.RoomSignal = _roomAvailable;
                _roomAvailable = null;
                drained = IsDrainedLocked();
            }

            disposal = _disposal.Task;
            if (fromInside)
            {
                othersDrained = AddSelfDisposerLocked();
            }
        }

        if (started is null)
        {
            return new ValueTask(othersDrained ?? disposal);
        }

        Apply(in effects);
        if (drained)
        {
            _drained.TrySetResult();
        }

        var finishing = FinishDisposalAsync(started);
        return new ValueTask(othersDrained ?? finishing);
    }

    /// <summary>Gets whether the calling thread holds the processor's lock; tests use it to prove no user code runs under it.</summary>
    internal bool IsLockHeldByCurrentThread => Monitor.IsEntered(_gate);

    /// <summary>Runs the handler worker for a started batch; the batch's thread-pool work item calls it.</summary>
    internal void RunWorker(PendingBatch<TItem, TResult> batch)
    {
        // The worker and its handlers run in the handler context, which holds nothing but the marker: entering a
        // ready-made context allocates nothing, where setting an AsyncLocal per worker would.
        var context = _handlerContext ??= CaptureHandlerContext();
        if (context is null)
        {
            _ = RunWorkerAsync(batch);
            return;
        }

        ExecutionContext.Run(context, _runWorkerCallback, batch);
    }

    /// <summary>Builds the handler context on a thread-pool thread (a batch's work item), whose context is the default one.</summary>
    private ExecutionContext? CaptureHandlerContext()
    {
        s_currentProcessor.Value = this;
        var context = ExecutionContext.Capture();
        s_currentProcessor.Value = null;
        return context;
    }

    /// <summary>The first DisposeAsync call's background part: the drain deadline, then the end of the disposal.</summary>
    private async Task FinishDisposalAsync(TaskCompletionSource disposal)
    {
        try
        {
            if (_options.DisposeTimeout != Timeout.InfiniteTimeSpan && !_drained.Task.IsCompleted)
            {
                using var stopDelay = new CancellationTokenSource();
                var deadline = Task.Delay(_options.DisposeTimeout, _time, stopDelay.Token);
                var first = await Task.WhenAny(_drained.Task, deadline).ConfigureAwait(false);
                if (first != _drained.Task)
                {
                    // Drop first: cancelling ends the running calls, whose workers would otherwise start queued batches.
                    DropUnstartedBatches();
                    await _shutdown.CancelAsync().ConfigureAwait(false);
                }

                await stopDelay.CancelAsync().ConfigureAwait(false);
            }

            await _drained.Task.ConfigureAwait(false);
        }
        finally
        {
            _timer?.Dispose();
            disposal.TrySetResult();
        }
    }

    /// <summary>Registers a DisposeAsync call made from a handler and returns the task it completes with.</summary>
    private Task AddSelfDisposerLocked()
    {
        _selfDisposers++;
        var othersDrained = _othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        SignalOthersDrainedLocked();
        return othersDrained.Task;
    }

    /// <summary>
    /// Completes the DisposeAsync calls made from handlers once every running handler call is one of theirs and no queued
    /// batch can start (every handler slot runs such a call); anything else would wait for the callers themselves.
    /// </summary>
    private void SignalOthersDrainedLocked()
    {
        if (_othersDrained is { } othersDrained
            && _open.Count == 0
            && _running.Count <= _selfDisposers
            && (_ready.Count == 0 || _running.Count >= _options.MaxConcurrentBatches))
        {
            // Continuations run asynchronously: completing it under the lock runs no user code.
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }
    }

    private static BatchProcessorOptions<TItem> Validate(BatchProcessorOptions<TItem> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        new OptionsValidator("BatchProcessorOptions")
            .RequirePositive(copy.MaxBatchSize, nameof(copy.MaxBatchSize))
            .RequirePositiveOrInfinite(copy.MaxDelay, nameof(copy.MaxDelay))
            .RequirePositive(copy.MaxConcurrentBatches, nameof(copy.MaxConcurrentBatches))
            .Require(copy.QueueCapacity >= copy.MaxBatchSize && copy.QueueCapacity > 0, nameof(copy.QueueCapacity), copy.QueueCapacity, $"must be at least MaxBatchSize ({copy.MaxBatchSize})")
            .RequireDefined(copy.FullMode, nameof(copy.FullMode))
            .RequireDefined(copy.FailureMode, nameof(copy.FailureMode))
            .RequireDefined(copy.MissingKeyBehavior, nameof(copy.MissingKeyBehavior))
            .Require(copy.MinBatchSize >= 1 && copy.MinBatchSize <= copy.MaxBatchSize, nameof(copy.MinBatchSize), copy.MinBatchSize, $"must be between 1 and MaxBatchSize ({copy.MaxBatchSize})")
            .RequirePositive(copy.TargetLatency, nameof(copy.TargetLatency))
            .RequirePositiveOrInfinite(copy.DisposeTimeout, nameof(copy.DisposeTimeout))
            .RequireNotNull(copy.TimeProvider, nameof(copy.TimeProvider))
            .ThrowIfInvalid();
        return copy;
    }

    private PendingBatch<TItem, TResult> NewBatch() =>
        new(this, _options.MaxBatchSize, _options.Comparer, _options.Coalesce);

    /// <summary>The admission decision, under the lock; side effects that may run foreign code are left in <paramref name="effects"/>.</summary>
    private EnqueueResult Enqueue(TItem item, BatchItemSource<TItem, TResult>? caller, ref Effects effects)
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return EnqueueResult.Disposed;
            }

            if (caller is { CancelRequested: true })
            {
                return EnqueueResult.Cancelled;
            }

            var open = _open;
            if (open.SlotByItem is { } slots && slots.TryGetValue(item, out var slot))
            {
                if (caller is null)
                {
                    open.Posts[slot]++;
                }
                else
                {
                    caller.Batch = open;
                    caller.Next = open.Callers[slot];
                    open.Callers[slot] = caller;
                }

                _submitted++;
                _coalesced++;
                return EnqueueResult.Accepted;
            }

            if (_pending >= _options.QueueCapacity)
            {
                switch (_options.FullMode)
                {
                    case QueueFullMode.Wait:
                        effects.Room = (_roomAvailable ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
                        return EnqueueResult.Full;
                    case QueueFullMode.Reject:
                        // Handed to the processor and ended as rejected: it is in the ledger.
                        _submitted++;
                        _dropped++;
                        return EnqueueResult.Rejected;
                    case QueueFullMode.DropOldest:
                        EvictLocked(oldest: true, ref effects);
                        break;
                    default:
                        EvictLocked(oldest: false, ref effects);
                        break;
                }

                open = _open;
            }

            if (caller is not null)
            {
                caller.Batch = open;
            }

            open.Add(item, caller);
            _pending++;
            _submitted++;
            if (open.Count == 1)
            {
                open.OpenedAt = _time.GetTimestamp();
                effects.ArmTimer = _timer is not null;
            }

            if (open.Count >= _batchSize)
            {
                effects.Start = SealLocked(BatchFlushReason.Size, ref effects);
            }

            return EnqueueResult.Accepted;
        }
    }

    /// <summary>Takes the oldest or newest waiting slot out of its batch to make room (DropOldest / DropNewest).</summary>
    private void EvictLocked(bool oldest, ref Effects effects)
    {
        PendingBatch<TItem, TResult>? batch = null;
        if (oldest)
        {
            for (var i = 0; i < _ready.Count && batch is null; i++)
            {
                if (_ready[i].Count > 0)
                {
                    batch = _ready[i];
                }
            }

            batch ??= _open;
        }
        else if (_open.Count > 0)
        {
            batch = _open;
        }
        else
        {
            for (var i = _ready.Count - 1; i >= 0 && batch is null; i--)
            {
                if (_ready[i].Count > 0)
                {
                    batch = _ready[i];
                }
            }
        }

        if (batch is null || batch.Count == 0)
        {
            return;
        }

        var index = oldest ? 0 : batch.Count - 1;
        var submissions = batch.SubmissionsAt(index);
        for (var caller = batch.Callers[index]; caller is not null; caller = caller.Next)
        {
            caller.Removed = true;
        }

        effects.Victim = new Victim(batch.Items[index], batch.Callers[index], batch.Posts[index], oldest ? DropReason.DroppedOldest : DropReason.DroppedNewest);
        batch.RemoveAt(index);
        _pending--;
        _dropped += submissions;
    }

    /// <summary>Closes the open batch; starts it when a handler slot is free (the caller dispatches it), else queues it.</summary>
    private PendingBatch<TItem, TResult>? SealLocked(BatchFlushReason reason, ref Effects effects)
    {
        var batch = _open;
        _open = _spareBatches.Count > 0 ? _spareBatches.Pop() : NewBatch();
        batch.Reason = reason;
        batch.Sequence = ++_sequence;
        switch (reason)
        {
            case BatchFlushReason.Size:
                _bySize++;
                break;
            case BatchFlushReason.Time:
                _byTime++;
                break;
            case BatchFlushReason.Forced:
                _byRequest++;
                break;
            default:
                _onDispose++;
                break;
        }

        if (_running.Count < _options.MaxConcurrentBatches)
        {
            StartLocked(batch, ref effects);
            return batch;
        }

        _ready.Enqueue(batch);
        return null;
    }

    private void StartLocked(PendingBatch<TItem, TResult> batch, ref Effects effects)
    {
        batch.Started = true;
        _pending -= batch.Count;
        _running.Add(batch);
        TakeRoomSignalLocked(ref effects);
    }

    private void TakeRoomSignalLocked(ref Effects effects)
    {
        if (_roomAvailable is not null && _pending < _options.QueueCapacity)
        {
            effects.RoomSignal = _roomAvailable;
            _roomAvailable = null;
        }
    }

    private bool HasOutstandingLocked(long sequence)
    {
        if (_ready.Count > 0 && _ready[0].Sequence <= sequence)
        {
            return true;
        }

        foreach (var running in _running)
        {
            if (running.Sequence <= sequence)
            {
                return true;
            }
        }

        return false;
    }

    private List<TaskCompletionSource>? TakeCompletedFlushWaitersLocked()
    {
        if (_flushWaiters is not { Count: > 0 } waiters)
        {
            return null;
        }

        List<TaskCompletionSource>? done = null;
        for (var i = waiters.Count - 1; i >= 0; i--)
        {
            if (!HasOutstandingLocked(waiters[i].Sequence))
            {
                (done ??= []).Add(waiters[i].Done);
                waiters.RemoveAt(i);
            }
        }

        return done;
    }

    private bool IsDrainedLocked() => _disposed && _running.Count == 0 && _ready.Count == 0 && _open.Count == 0;

    /// <summary>Runs what an admission decided, outside the lock.</summary>
    private void Apply(in Effects effects)
    {
        if (effects.ArmTimer)
        {
            ArmTimer(_options.MaxDelay);
        }

        if (effects.Victim is { } victim)
        {
            for (var caller = victim.Callers; caller is not null;)
            {
                var next = caller.Next;
                caller.Registration.Dispose();

                // The callback first, so that it has run by the time the caller sees the drop.
                NotifyDropped(victim.Item, victim.Reason, 1);
                caller.SetException(new ItemDroppedException(victim.Reason));
                caller = next;
            }

            NotifyDropped(victim.Item, victim.Reason, victim.Posts);
        }

        effects.RoomSignal?.TrySetResult();
        if (effects.Start is not null)
        {
            ThreadPool.UnsafeQueueUserWorkItem(effects.Start, preferLocal: false);
        }
    }

    private void ArmTimer(TimeSpan dueTime)
    {
        try
        {
            _timer?.Change(dueTime, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposal finished between the decision and here: nothing is open any more.
        }
    }

    private void OnTimer()
    {
        var effects = default(Effects);
        var rearm = TimeSpan.Zero;
        lock (_gate)
        {
            if (_open.Count == 0)
            {
                return;
            }

            var age = _time.GetElapsedTime(_open.OpenedAt);
            if (age >= _options.MaxDelay)
            {
                effects.Start = SealLocked(BatchFlushReason.Time, ref effects);
            }
            else
            {
                // A firing armed for an earlier batch: wait for this batch's own deadline.
                rearm = _options.MaxDelay - age;
            }
        }

        if (rearm > TimeSpan.Zero)
        {
            ArmTimer(rearm);
        }

        Apply(in effects);
    }

    private void OnCancelled(object? state, CancellationToken token)
    {
        var caller = (BatchItemSource<TItem, TResult>)state!;
        var effects = default(Effects);
        lock (_gate)
        {
            if (caller.Removed)
            {
                return;
            }

            var batch = caller.Batch;
            if (batch is null)
            {
                // Not enqueued yet: the submitting call sees the flag under the lock and refuses the item.
                caller.CancelRequested = true;
                return;
            }

            if (batch.Started)
            {
                return;
            }

            var index = batch.IndexOfCaller(caller);
            if (index < 0)
            {
                return;
            }

            if (ReferenceEquals(batch.Callers[index], caller))
            {
                batch.Callers[index] = caller.Next;
            }
            else
            {
                var previous = batch.Callers[index]!;
                while (!ReferenceEquals(previous.Next, caller))
                {
                    previous = previous.Next!;
                }

                previous.Next = caller.Next;
            }

            caller.Next = null;
            caller.Removed = true;
            _cancelled++;
            if (batch.Callers[index] is null && batch.Posts[index] == 0)
            {
                batch.RemoveAt(index);
                _pending--;
                TakeRoomSignalLocked(ref effects);
            }
        }

        Apply(in effects);
        caller.SetException(new OperationCanceledException(token));
    }

    private ValueTask<TResult> Refuse(TItem item, BatchItemSource<TItem, TResult> caller, EnqueueResult result, CancellationToken cancellationToken)
    {
        caller.Registration.Dispose();
        caller.ReturnToPool();
        switch (result)
        {
            case EnqueueResult.Rejected:
                NotifyDropped(item, DropReason.Rejected, 1);
                return ValueTask.FromException<TResult>(new ItemDroppedException(DropReason.Rejected));
            case EnqueueResult.Cancelled:
                return ValueTask.FromCanceled<TResult>(cancellationToken);
            default:
                throw new ObjectDisposedException(GetType().FullName);
        }
    }

    private async ValueTask<TResult> SubmitWhenRoomAsync(TItem item, BatchItemSource<TItem, TResult> caller, Task room, CancellationToken cancellationToken)
    {
        var task = caller.AsValueTask();
        while (true)
        {
            try
            {
                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                caller.Registration.Dispose();
                caller.ReturnToPool();
                throw;
            }

            var effects = default(Effects);
            var result = Enqueue(item, caller, ref effects);
            Apply(in effects);
            switch (result)
            {
                case EnqueueResult.Accepted:
                    return await task.ConfigureAwait(false);
                case EnqueueResult.Full:
                    room = effects.Room!;
                    break;
                default:
                    return await Refuse(item, caller, result, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<bool> PostWhenRoomAsync(TItem item, Task room, CancellationToken cancellationToken)
    {
        while (true)
        {
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            var effects = default(Effects);
            var result = Enqueue(item, null, ref effects);
            Apply(in effects);
            switch (result)
            {
                case EnqueueResult.Accepted:
                    return true;
                case EnqueueResult.Full:
                    room = effects.Room!;
                    break;
                case EnqueueResult.Rejected:
                    NotifyDropped(item, DropReason.Rejected, 1);
                    return false;
                default:
                    throw new ObjectDisposedException(GetType().FullName);
            }
        }
    }

    private async Task RunWorkerAsync(PendingBatch<TItem, TResult> batch)
    {
        // One worker keeps taking queued batches while it holds a handler slot, so a busy processor does not
        // re-dispatch per batch. Nothing here throws: every failure is delivered to the items.
        for (var current = batch; current is not null; current = FinishBatch(current))
        {
            await ProcessBatchAsync(current).ConfigureAwait(false);
        }
    }

    private async Task ProcessBatchAsync(PendingBatch<TItem, TResult> batch)
    {
        var count = batch.Count;
        if (count == 0)
        {
            return;
        }

        // From here the handler's token governs: detach the callers' tokens. Dispose waits for a callback that is
        // running right now; that callback sees the batch started and leaves the caller alone.
        for (var i = 0; i < count; i++)
        {
            for (var caller = batch.Callers[i]; caller is not null; caller = caller.Next)
            {
                caller.Registration.Dispose();
            }
        }

        var start = _time.GetTimestamp();
        if (BatchingInstruments.Batches.Enabled)
        {
            BatchingInstruments.Batches.Add(1, _nameTag, new(TelemetryTagNames.FlushReason, BatchingInstruments.TagValue(batch.Reason)));
        }

        BatchingInstruments.BatchSize.Record(count, _nameTag);
        if (BatchingInstruments.WaitTime.Enabled)
        {
            BatchingInstruments.WaitTime.Record(_time.GetElapsedTime(batch.OpenedAt, start).TotalSeconds, _nameTag);
        }

        using (var activity = Telemetry.ActivitySource.StartActivity("parallelexec.batch.flush"))
        {
            activity?.SetTag(TelemetryTagNames.Name, _options.Name);
            activity?.SetTag(TelemetryTagNames.FlushReason, BatchingInstruments.TagValue(batch.Reason));
            activity?.SetTag("parallelexec.batch.size", count);
            await ExecuteRangeAsync(batch, 0, count).ConfigureAwait(false);
        }

        var latency = _time.GetElapsedTime(start);
        batch.Latency = latency;
        BatchingInstruments.Duration.Record(latency.TotalSeconds, _nameTag);
    }

    private async Task ExecuteRangeAsync(PendingBatch<TItem, TResult> batch, int offset, int count)
    {
        Interlocked.Increment(ref _handlerCalls);
        var view = new BatchItemsView<TItem>(batch.Items, offset, count);
        Exception? failure = null;
        try
        {
            if (_byPosition is not null)
            {
                IReadOnlyList<TResult> results;
                try
                {
                    results = await InvokeAsync(_byPosition, view).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    failure = ex;
                    results = [];
                }

                if (failure is null)
                {
                    CompleteByPosition(batch, offset, count, results);
                    return;
                }
            }
            else
            {
                IReadOnlyDictionary<TItem, TResult>? results;
                try
                {
                    results = await InvokeAsync(_byKey!, view).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    failure = ex;
                    results = null;
                }

                if (failure is null)
                {
                    CompleteByKey(batch, offset, count, results);
                    return;
                }
            }
        }
        finally
        {
            view.Detach();
        }

        if (_options.FailureMode == BatchFailureMode.Bisect && count > 1 && !_shutdown.IsCancellationRequested)
        {
            var half = count / 2;
            await ExecuteRangeAsync(batch, offset, half).ConfigureAwait(false);
            await ExecuteRangeAsync(batch, offset + half, count - half).ConfigureAwait(false);
            return;
        }

        var failed = 0L;
        for (var i = 0; i < count; i++)
        {
            failed += FailSlot(batch, offset + i, failure);
        }

        RecordFailures(failed);
    }

    private ValueTask<T> InvokeAsync<T>(Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<T>> handler, BatchItemsView<TItem> view)
    {
        var token = _shutdown.Token;
        if (_options.ResiliencePipeline is not { } pipeline)
        {
            return handler(view, token);
        }

        return pipeline.ExecuteAsync(static (state, ct) => state.Handler(state.View, ct), (Handler: handler, View: view), token);
    }

    private void CompleteByPosition(PendingBatch<TItem, TResult> batch, int offset, int count, IReadOnlyList<TResult>? results)
    {
        long succeeded = 0, failed = 0;
        if (results is null || results.Count != count)
        {
            var error = new InvalidOperationException(
                $"The batch handler returned {results?.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "null"} results for {count} items; "
                + "a by-position handler must return exactly one result per item, in input order.");
            for (var i = 0; i < count; i++)
            {
                failed += FailSlot(batch, offset + i, error);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                TResult result;
                try
                {
                    result = results[i];
                }
                catch (Exception ex)
                {
                    failed += FailSlot(batch, offset + i, ex);
                    continue;
                }

                succeeded += SucceedSlot(batch, offset + i, result);
            }
        }

        Interlocked.Add(ref _succeeded, succeeded);
        RecordFailures(failed);
    }

    private void CompleteByKey(PendingBatch<TItem, TResult> batch, int offset, int count, IReadOnlyDictionary<TItem, TResult>? results)
    {
        long succeeded = 0, failed = 0;
        for (var i = 0; i < count; i++)
        {
            var index = offset + i;
            var item = batch.Items[index];
            try
            {
                if (results is null)
                {
                    failed += FailSlot(batch, index, new InvalidOperationException("The by-key batch handler returned null instead of a dictionary."));
                }
                else if (results.TryGetValue(item, out var result))
                {
                    succeeded += SucceedSlot(batch, index, result);
                }
                else if (_options.MissingKeyBehavior == MissingKeyBehavior.ReturnDefault)
                {
                    succeeded += SucceedSlot(batch, index, default!);
                }
                else
                {
                    failed += FailSlot(batch, index, new KeyNotFoundException($"The batch handler returned no result for the item '{item}'."));
                }
            }
            catch (Exception ex)
            {
                // The user's dictionary threw from TryGetValue; nothing of this slot has been completed yet.
                failed += FailSlot(batch, index, ex);
            }
        }

        Interlocked.Add(ref _succeeded, succeeded);
        RecordFailures(failed);
    }

    private static int SucceedSlot(PendingBatch<TItem, TResult> batch, int index, TResult result)
    {
        var completed = batch.Posts[index];
        for (var caller = batch.Callers[index]; caller is not null;)
        {
            // Read the link first: once completed, the caller may recycle the source at any moment.
            var next = caller.Next;
            caller.SetResult(result);
            caller = next;
            completed++;
        }

        return completed;
    }

    private int FailSlot(PendingBatch<TItem, TResult> batch, int index, Exception error)
    {
        var completed = 0;
        for (var caller = batch.Callers[index]; caller is not null;)
        {
            var next = caller.Next;
            caller.SetException(error);
            caller = next;
            completed++;
        }

        var posts = batch.Posts[index];
        if (posts > 0 && _options.OnError is { } onError)
        {
            for (var i = 0; i < posts; i++)
            {
                try
                {
                    onError(batch.Items[index], error);
                }
                catch (Exception)
                {
                    // A failing error callback must not stop the other items from completing.
                }
            }
        }

        return completed + posts;
    }

    private void RecordFailures(long failed)
    {
        if (failed > 0)
        {
            Interlocked.Add(ref _failed, failed);
            BatchingInstruments.Failures.Add(failed, _nameTag);
        }
    }

    private void NotifyDropped(TItem item, DropReason reason, int submissions)
    {
        if (submissions <= 0)
        {
            return;
        }

        BatchingInstruments.Drops.Add(submissions, _nameTag, new(TelemetryTagNames.DropReason, reason.ToString()));
        if (_options.OnDropped is not { } onDropped)
        {
            return;
        }

        for (var i = 0; i < submissions; i++)
        {
            try
            {
                onDropped(item, reason);
            }
            catch (Exception)
            {
                // A failing drop callback must not stop the ledger.
            }
        }
    }

    /// <summary>Ends a handled batch: frees its slot, adapts the size, and takes the next queued batch for this worker.</summary>
    private PendingBatch<TItem, TResult>? FinishBatch(PendingBatch<TItem, TResult> batch)
    {
        var effects = default(Effects);
        PendingBatch<TItem, TResult>? next = null;
        List<TaskCompletionSource>? flushed;
        bool drained;
        lock (_gate)
        {
            _running.Remove(batch);
            if (batch.Count > 0)
            {
                _lastLatencyTicks = batch.Latency.Ticks;
                // A partial batch (flushed by time or on request) says nothing about how large a batch could be,
                // unless it was already too slow.
                if (_options.AdaptiveBatchSize && (batch.Reason == BatchFlushReason.Size || batch.Latency > _options.TargetLatency))
                {
                    AdaptLocked(batch.Count, batch.Latency);
                }
            }

            RecycleLocked(batch);
            if (_ready.Count > 0 && _running.Count < _options.MaxConcurrentBatches)
            {
                next = _ready.Dequeue();
                StartLocked(next, ref effects);
            }

            flushed = TakeCompletedFlushWaitersLocked();
            drained = IsDrainedLocked();
            SignalOthersDrainedLocked();
        }

        Apply(in effects);
        CompleteAll(flushed);
        if (drained)
        {
            _drained.TrySetResult();
        }

        return next;
    }

    /// <summary>
    /// Moves the batch size toward the number of items a handler call can take within the target latency, assuming
    /// latency grows with the batch size; halfway steps keep it from oscillating.
    /// </summary>
    private void AdaptLocked(int count, TimeSpan latency)
    {
        var ideal = latency <= TimeSpan.Zero
            ? _options.MaxBatchSize
            : count * (_options.TargetLatency.Ticks / (double)latency.Ticks);
        ideal = Math.Min(ideal, _options.MaxBatchSize);
        var halfway = (_batchSize + ideal) / 2;

        // Round toward the ideal so that the last step lands on it instead of stopping one short.
        var size = ideal < _batchSize ? Math.Floor(halfway) : Math.Ceiling(halfway);
        _batchSize = Math.Clamp((int)size, _options.MinBatchSize, _options.MaxBatchSize);
    }

    private void RecycleLocked(PendingBatch<TItem, TResult> batch)
    {
        batch.Reset();
        // Keep as many batches as a full queue can hold (bounded), so a steady stream allocates none.
        var retained = Math.Min(1024, (_options.QueueCapacity / _options.MaxBatchSize) + _options.MaxConcurrentBatches + 2);
        if (_spareBatches.Count < retained)
        {
            _spareBatches.Push(batch);
        }
    }

    private void DropUnstartedBatches()
    {
        List<PendingBatch<TItem, TResult>> dropped;
        lock (_gate)
        {
            dropped = _ready.DrainToList();
            foreach (var batch in dropped)
            {
                batch.Started = true;
                _pending -= batch.Count;
                for (var i = 0; i < batch.Count; i++)
                {
                    _dropped += batch.SubmissionsAt(i);
                }
            }
        }

        foreach (var batch in dropped)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                for (var caller = batch.Callers[i]; caller is not null;)
                {
                    var next = caller.Next;
                    caller.Registration.Dispose();
                    NotifyDropped(batch.Items[i], DropReason.DrainTimeout, 1);
                    caller.SetException(new ItemDroppedException(DropReason.DrainTimeout));
                    caller = next;
                }

                NotifyDropped(batch.Items[i], DropReason.DrainTimeout, batch.Posts[i]);
            }
        }

        List<TaskCompletionSource>? flushed;
        bool drained;
        lock (_gate)
        {
            foreach (var batch in dropped)
            {
                RecycleLocked(batch);
            }

            flushed = TakeCompletedFlushWaitersLocked();
            drained = IsDrainedLocked();
            SignalOthersDrainedLocked();
        }

        CompleteAll(flushed);
        if (drained)
        {
            _drained.TrySetResult();
        }
    }

    private static void CompleteAll(List<TaskCompletionSource>? waiters)
    {
        if (waiters is null)
        {
            return;
        }

        foreach (var waiter in waiters)
        {
            waiter.TrySetResult();
        }
    }

    /// <summary>An item taken out of a batch to make room, to be reported outside the lock.</summary>
    private sealed record Victim(TItem Item, BatchItemSource<TItem, TResult>? Callers, int Posts, DropReason Reason);

    /// <summary>What a decision taken under the lock leaves to do once the lock is released.</summary>
    private struct Effects
    {
        public PendingBatch<TItem, TResult>? Start;
        public bool ArmTimer;
        public Task? Room;
        public TaskCompletionSource? RoomSignal;
        public Victim? Victim;
    }
}
