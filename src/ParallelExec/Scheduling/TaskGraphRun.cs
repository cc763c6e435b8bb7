using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// One run of a <see cref="TaskGraph"/>, started by <see cref="TaskGraph.Start(CancellationToken)"/>: await
/// <see cref="Completion"/> for the result and read <see cref="ReadCompletionsAsync"/> to see tasks end as they end.
/// </summary>
/// <remarks>
/// <para>
/// How it schedules: every task has a counter of dependencies that have not ended (Kahn's algorithm); a task whose
/// counter reaches zero enters a priority heap of ready tasks. Up to <c>MaxDegreeOfParallelism</c> dispatchers take
/// the best ready task, run its body on their own thread, and when the body completes synchronously record the outcome
/// and take the next task in the same step, under one lock acquisition. So a graph of trivial synchronous tasks runs
/// without a thread-pool hop or an allocation per task. A body that goes asynchronous keeps its slot; when it
/// completes, its continuation hops to the thread pool (never running the scheduler on the thread that completed the
/// user's work) and becomes a dispatcher again. New dispatchers are queued only when slots free up and ready tasks
/// wait. Every loop is iterative: a 100,000-task chain does not grow the stack.
/// </para>
/// <para>
/// Invariants, all under <c>_gate</c>: a task is taken only while fewer than MaxDegreeOfParallelism run; a task ends
/// exactly once (its state moves from Waiting/Ready/Running to one terminal state, and every transition checks the
/// state first); the run finishes when every task, including those added at run time, has ended. No user code (task
/// bodies, progress callbacks, the time provider, token callbacks) runs under the lock.
/// </para>
/// </remarks>
public sealed class TaskGraphRun
{
    private static readonly Counter<long> s_tasksEnded = Telemetry.Meter.CreateCounter<long>(
        "parallelexec.graph.tasks.ended", "{task}", "Tasks of task-graph runs that ended, by outcome (succeeded, failed, skipped, cancelled).");

    private static readonly UpDownCounter<long> s_tasksRunning = Telemetry.Meter.CreateUpDownCounter<long>(
        "parallelexec.graph.tasks.running", "{task}", "Tasks of task-graph runs executing now.");

    private static readonly Histogram<double> s_taskDuration = Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.graph.task.duration", "s", "How long task-graph tasks ran, from start to end.");

    private readonly object _gate = new();
    private readonly TaskGraph _graph;
    private readonly TimeProvider _time;
    private readonly int _maxParallel;
    private readonly FailurePolicy _policy;
    private readonly WorkerPool? _workerPool;
    private readonly List<TaskNodeResult> _nodes;
    private readonly PriorityQueue<TaskNodeResult, ReadyKey> _ready = new();

    // The tasks ready at the start, sorted best first and consumed from _initialHead: a wide graph then costs one sort
    // (none when the order is already right) instead of a heap insertion and removal per task. Their ReadyKey sequence
    // is their position, so tasks that become ready later (sequence >= length) lose ties to them, as in the heap.
    private TaskNodeResult[] _initialReady = [];
    private int _initialHead;

    // Never disposed: it has no timer and no registration, and a body that outlives its task may still hold its token.
    private readonly CancellationTokenSource _runCancellation = new();
    private readonly CancellationToken _callerToken;
    private readonly IProgress<TaskNodeResult>? _progress;
    private readonly Channel<TaskNodeResult>? _completions;
    private readonly TaskCompletionSource<TaskGraphResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly KeyValuePair<string, object?> _nameTag;

    // Task bodies run in the caller's execution context (AsyncLocal values, Activity.Current), each starting from the
    // context as it was at the run's start, so a body's AsyncLocal changes do not leak into the next body a
    // dispatcher runs inline.
    private readonly ExecutionContext? _executionContext = ExecutionContext.Capture();
    private Dictionary<string, int>? _dynamicIds;
    private CancellationTokenRegistration _callerRegistration;
    private List<Exception>? _failures;
    private string? _stopReason;
    private long _readySequence;
    private int _running;
    private int _ended;
    private int _succeeded;
    private int _failed;
    private int _skipped;
    private int _cancelled;
    private bool _cancelledByCaller;
    private bool _finished;

    // Threads that left the lock with task results still to report to the progress callback: the run finishes only
    // once they have reported, so that a caller who awaited the run has received every report (guarded by _gate).
    private int _reportsInFlight;
    private DateTimeOffset _startedAt;

    internal TaskGraphRun(TaskGraph graph, IProgress<TaskNodeResult>? progress, bool streamCompletions, CancellationToken cancellationToken)
    {
        _graph = graph;
        _time = graph.TimeProvider;
        _maxParallel = graph.MaxDegreeOfParallelism;
        _policy = graph.FailurePolicy;
        _workerPool = graph.WorkerPool;
        _progress = progress;
        _callerToken = cancellationToken;
        _nameTag = new(TelemetryTagNames.Name, graph.Name);
        if (streamCompletions)
        {
            // Holds at most one entry per task of the run, so it is bounded by the graph itself.
            _completions = Channel.CreateUnbounded<TaskNodeResult>(new UnboundedChannelOptions { SingleWriter = true });
        }

        var definitions = graph.Definitions;
        _nodes = new List<TaskNodeResult>(definitions.Length);
        foreach (var definition in definitions)
        {
            _nodes.Add(definition.CreateNode());
        }
    }

    /// <summary>Gets the task that completes with the run's result once every task has ended. It never faults.</summary>
    public Task<TaskGraphResult> Completion => _completion.Task;

    /// <summary>
    /// Reads every task's result in the order the tasks ended, each exactly once, then completes when the run has
    /// finished. Several readers share the results between them.
    /// </summary>
    /// <param name="cancellationToken">Stops the reading (not the run).</param>
    /// <returns>The task results in completion order.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async IAsyncEnumerable<TaskNodeResult> ReadCompletionsAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _completions!.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var result))
            {
                yield return result;
            }
        }
    }

    /// <summary>Gets a snapshot of how many tasks of the run are in each state.</summary>
    /// <returns>The counts, taken atomically.</returns>
    public TaskGraphStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new TaskGraphStatistics(
                total: _nodes.Count,
                ready: ReadyCountLocked,
                running: _running,
                succeeded: _succeeded,
                failed: _failed,
                skipped: _skipped,
                cancelled: _cancelled);
        }
    }

    internal void Start()
    {
        _startedAt = _time.GetUtcNow();
        if (_callerToken.CanBeCanceled)
        {
            _callerRegistration = _callerToken.UnsafeRegister(static state => ((TaskGraphRun)state!).OnCallerCancelled(), this);
        }

        TaskNodeResult[]? dispatch;
        bool finished;
        lock (_gate)
        {
            if (_stopReason is null)
            {
                PrepareInitialReadyLocked();
            }

            dispatch = TakeForNewDispatchersLocked();
            finished = TryFinishLocked();
        }

        StartDispatchers(dispatch);
        if (finished)
        {
            Finish();
        }
    }

    internal CancellationToken RunToken => _runCancellation.Token;

    /// <summary>Looks a dependency up for a task body. Only direct dependencies are readable: they have ended before it started.</summary>
    internal TaskNodeResult GetDependency(TaskNodeResult current, string taskId)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        lock (_gate)
        {
            var index = IndexOfLocked(taskId);
            if (index >= 0 && Array.BinarySearch(current.Definition.DependencyIndices, index) >= 0)
            {
                return _nodes[index];
            }
        }

        throw new ArgumentException(
            $"Task '{taskId}' is not a dependency of task '{current.Id}': a task reads the results of its own dependencies only.",
            nameof(taskId));
    }

    /// <summary>Adds tasks from a running task, validated like a built graph.</summary>
    internal void AddTasks(TaskNodeResult parent, List<TaskDefinition> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        TaskGraphValidationException? invalid = null;
        List<TaskNodeResult>? skipped = null;
        TaskNodeResult[]? dispatch;
        lock (_gate)
        {
            if (parent.State != NodeState.Running)
            {
                throw new InvalidOperationException(
                    $"Task '{parent.Id}' has ended: a task can add tasks only while it runs.");
            }

            try
            {
                GraphValidator.Validate(batch, _nodes.Count, IndexOfLocked, $"set of tasks added by task '{parent.Id}'");
            }
            catch (TaskGraphValidationException exception)
            {
                invalid = exception;
            }

            if (invalid is null)
            {
                AddValidatedLocked(parent, batch, now, ref skipped);
            }

            dispatch = TakeForNewDispatchersLocked();
        }

        if (invalid is not null)
        {
            throw invalid;
        }

        Report(skipped);
        StartDispatchers(dispatch);
    }

    private void AddValidatedLocked(TaskNodeResult parent, List<TaskDefinition> batch, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        var first = _nodes.Count;
        _dynamicIds ??= new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var definition in batch)
        {
            definition.AddedBy = parent.Id;
            _nodes.Add(definition.CreateNode());
            _dynamicIds.Add(definition.Id, definition.Index);
        }

        // Wire edges from tasks that already exist; edges inside the batch are in the definitions already.
        var skipReasons = new string?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var node = _nodes[first + i];
            var pending = 0;
            foreach (var index in node.Definition.DependencyIndices)
            {
                if (index >= first)
                {
                    pending++;
                    continue;
                }

                var dependency = _nodes[index];
                if (dependency.State >= NodeState.Succeeded)
                {
                    if (dependency.State != NodeState.Succeeded && _policy == FailurePolicy.SkipDependents)
                    {
                        skipReasons[i] ??= $"Skipped because task '{dependency.Id}' did not succeed ({dependency.Status}).";
                    }
                }
                else
                {
                    pending++;
                    (dependency.ExtraDependents ??= []).Add(node.Definition.Index);
                }
            }

            node.PendingDependencies = pending;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var node = _nodes[first + i];
            if (node.State != NodeState.Waiting)
            {
                continue;
            }

            if (_stopReason is not null)
            {
                SkipLocked(node, _stopReason, now, ref skipped);
            }
            else if (skipReasons[i] is { } reason)
            {
                SkipLocked(node, reason, now, ref skipped);
                SkipDependentsLocked(node, reason, now, ref skipped);
            }
            else if (node.PendingDependencies == 0)
            {
                EnqueueReadyLocked(node);
            }
        }
    }

    private int IndexOfLocked(string taskId)
    {
        var index = _graph.IndexOf(taskId);
        if (index < 0 && _dynamicIds is not null && _dynamicIds.TryGetValue(taskId, out var dynamicIndex))
        {
            index = dynamicIndex;
        }

        return index;
    }

    /// <summary>A dispatcher: runs tasks one after another while they complete synchronously.</summary>
    /// <param name="node">The task this dispatcher was given (its slot is already counted).</param>
    private void RunLoop(TaskNodeResult? node)
    {
        try
        {
            while (node is not null)
            {
                // The clock is read after the lock that made the task ready, so a task never appears to start before a
                // dependency (ended by another dispatcher) ended.
                var pending = Execute(node, _time.GetUtcNow());
                if (!pending.IsCompleted)
                {
                    _ = CompleteWhenDoneAsync(node, pending);
                    return;
                }

                Exception? error = null;
                try
                {
                    pending.GetAwaiter().GetResult();
                }
                catch (Exception exception)
                {
                    error = exception;
                }

                node = Complete(node, error, _time.GetUtcNow());
            }
        }
        catch (Exception exception)
        {
            // Only a bug in the scheduler gets here; surface it rather than hang the caller.
            _completion.TrySetException(exception);
        }
    }

    private async Task CompleteWhenDoneAsync(TaskNodeResult node, ValueTask pending)
    {
        Exception? error = null;
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            error = exception;
        }

        // Leave the thread that completed the user's work before running more tasks on it.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        TaskNodeResult? next;
        var now = _time.GetUtcNow();
        try
        {
            next = Complete(node, error, now);
        }
        catch (Exception exception)
        {
            _completion.TrySetException(exception);
            return;
        }

        RunLoop(next);
    }

    private ValueTask Execute(TaskNodeResult node, DateTimeOffset startedAt)
    {
        node.StartedAtInternal = startedAt;
        if (_executionContext is not null && ExecutionContext.Capture() != _executionContext)
        {
            ExecutionContext.Restore(_executionContext);
        }

        if (s_tasksRunning.Enabled)
        {
            s_tasksRunning.Add(1, _nameTag);
        }

        var token = _runCancellation.Token;
        try
        {
            var timeout = node.Definition.Timeout;
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                var scope = new TimeoutScope(timeout, _time, token);
                node.Timeout = scope;
                token = scope.Token;
            }

            var context = new TaskGraphContext(this, node);
            return _workerPool is null ? node.InvokeAsync(context, token) : InvokeOnWorkerPool(_workerPool, node, context, token);
        }
        catch (Exception exception)
        {
            return ValueTask.FromException(exception);
        }
    }

    // A separate method so that the lambda's closure is allocated only for tasks that run on a pool, not for every task.
    private static ValueTask InvokeOnWorkerPool(WorkerPool pool, TaskNodeResult node, TaskGraphContext context, CancellationToken token) =>
        pool.RunAsync(workerToken => node.InvokeAsync(context, workerToken), token);

    /// <summary>Records how a task ended, releases or skips its dependents, and takes the next task for this dispatcher.</summary>
    private TaskNodeResult? Complete(TaskNodeResult node, Exception? error, DateTimeOffset now)
    {
        var timedOut = false;
        var timeout = TimeSpan.Zero;
        if (node.Timeout is { } scope)
        {
            timedOut = scope.TimedOut;
            timeout = scope.Timeout;
            scope.Dispose();
            node.Timeout = null;
        }

        NodeState outcome;
        Exception? failure = null;
        if (error is null)
        {
            outcome = NodeState.Succeeded;
        }
        else if (error is OperationCanceledException && _runCancellation.IsCancellationRequested)
        {
            outcome = NodeState.Cancelled;
        }
        else if (error is OperationCanceledException && timedOut)
        {
            outcome = NodeState.Failed;
            failure = new TimeoutException($"Task '{node.Id}' timed out after {timeout}.", error);
        }
        else
        {
            outcome = NodeState.Failed;
            failure = error;
        }

        List<TaskNodeResult>? skipped = null;
        TaskNodeResult? next;
        TaskNodeResult[]? dispatch;
        bool cancelRun = false, finished;
        lock (_gate)
        {
            _running--;
            node.EndedAtInternal = now;
            node.Exception = failure ?? error;
            EndLocked(node, outcome);
            if (outcome == NodeState.Failed)
            {
                (_failures ??= []).Add(failure!);
                if (_policy == FailurePolicy.FailFast)
                {
                    cancelRun = StopLocked($"Skipped because task '{node.Id}' failed (FailFast).", now, ref skipped);
                }
                else if (_policy == FailurePolicy.SkipDependents)
                {
                    SkipDependentsLocked(node, $"Skipped because task '{node.Id}' failed.", now, ref skipped);
                }
            }

            ReleaseDependentsLocked(node);
            next = TakeLocked();
            dispatch = TakeForNewDispatchersLocked();
            BeginReportLocked();
            finished = TryFinishLocked();
        }

        if (cancelRun)
        {
            CancelRunningTasks();
        }

        if (s_tasksRunning.Enabled)
        {
            s_tasksRunning.Add(-1, _nameTag);
        }

        if (s_taskDuration.Enabled && node.Duration is { } duration)
        {
            s_taskDuration.Record(duration.TotalSeconds, _nameTag, new(TelemetryTagNames.Outcome, OutcomeName(outcome)));
        }

        Report(node);
        Report(skipped);
        finished |= EndReport();
        StartDispatchers(dispatch);
        if (finished)
        {
            Finish();
        }

        return next;
    }

    private void OnCallerCancelled()
    {
        var now = _time.GetUtcNow();
        List<TaskNodeResult>? skipped = null;
        bool cancelRun, finished;
        lock (_gate)
        {
            if (_finished)
            {
                return;
            }

            _cancelledByCaller = true;
            cancelRun = StopLocked("Skipped because the run was cancelled.", now, ref skipped);
            BeginReportLocked();
            finished = TryFinishLocked();
        }

        // Even when FailFast already stopped the run, the token was cancelled then; nothing more to signal.
        if (cancelRun)
        {
            CancelRunningTasks();
        }

        Report(skipped);
        finished |= EndReport();
        if (finished)
        {
            Finish();
        }
    }

    private void CancelRunningTasks()
    {
        try
        {
            _runCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A callback that user code registered on a task's token threw. The tasks still see the cancellation; the
            // exception belongs to that callback's owner and must not break the run's bookkeeping.
        }
    }

    /// <summary>Stops the run: no task starts any more and every task that has not started is skipped.</summary>
    private bool StopLocked(string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        if (_stopReason is not null)
        {
            return false;
        }

        _stopReason = reason;
        _ready.Clear();
        _initialHead = _initialReady.Length;
        foreach (var node in _nodes)
        {
            if (node.State is NodeState.Waiting or NodeState.Ready)
            {
                SkipLocked(node, reason, now, ref skipped);
            }
        }

        return true;
    }

    /// <summary>Skips every task that depends on <paramref name="root"/>, transitively, with an explicit stack.</summary>
    private void SkipDependentsLocked(TaskNodeResult root, string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        var stack = new Stack<TaskNodeResult>();
        stack.Push(root);
        while (stack.TryPop(out var node))
        {
            foreach (var index in node.Definition.DependentIndices)
            {
                SkipOne(_nodes[index], ref skipped);
            }

            if (node.ExtraDependents is { } extra)
            {
                foreach (var index in extra)
                {
                    SkipOne(_nodes[index], ref skipped);
                }
            }
        }

        void SkipOne(TaskNodeResult dependent, ref List<TaskNodeResult>? skipped)
        {
            // A dependent of an unfinished task can be neither ready nor running, so Waiting is the only state to skip.
            if (dependent.State == NodeState.Waiting)
            {
                SkipLocked(dependent, reason, now, ref skipped);
                stack.Push(dependent);
            }
        }
    }

    private void SkipLocked(TaskNodeResult node, string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        node.SkipReason = reason;
        node.EndedAtInternal = now;
        EndLocked(node, NodeState.Skipped);
        if (_progress is not null || s_tasksEnded.Enabled)
        {
            (skipped ??= []).Add(node);
        }
    }

    private void EndLocked(TaskNodeResult node, NodeState outcome)
    {
        Debug.Assert(node.State < NodeState.Succeeded, "A task ends exactly once.");
        node.State = outcome;
        _ended++;
        switch (outcome)
        {
            case NodeState.Succeeded: _succeeded++; break;
            case NodeState.Failed: _failed++; break;
            case NodeState.Skipped: _skipped++; break;
            default: _cancelled++; break;
        }

        // Written under the lock so that the stream's order is the order in which tasks ended.
        _completions?.Writer.TryWrite(node);
    }

    private void ReleaseDependentsLocked(TaskNodeResult node)
    {
        foreach (var index in node.Definition.DependentIndices)
        {
            Release(_nodes[index]);
        }

        if (node.ExtraDependents is { } extra)
        {
            foreach (var index in extra)
            {
                Release(_nodes[index]);
            }
        }

        void Release(TaskNodeResult dependent)
        {
            if (--dependent.PendingDependencies == 0 && dependent.State == NodeState.Waiting)
            {
                EnqueueReadyLocked(dependent);
            }
        }
    }

    private void EnqueueReadyLocked(TaskNodeResult node)
    {
        node.State = NodeState.Ready;
        var definition = node.Definition;
        _ready.Enqueue(node, new ReadyKey(definition.Priority, definition.CriticalPath, _readySequence++));
    }

    private int ReadyCountLocked => _ready.Count + (_initialReady.Length - _initialHead);

    private void PrepareInitialReadyLocked()
    {
        var ready = new TaskNodeResult[_graph.InitialReadyCount];
        var count = 0;
        var sorted = true;
        foreach (var node in _nodes)
        {
            if (node.PendingDependencies == 0 && node.State == NodeState.Waiting)
            {
                node.State = NodeState.Ready;
                ready[count] = node;
                if (count > 0 && InitialKey(ready[count - 1], 0).CompareTo(InitialKey(node, 1)) > 0)
                {
                    sorted = false;
                }

                count++;
            }
        }

        if (!sorted)
        {
            var keys = new ReadyKey[count];
            for (var i = 0; i < count; i++)
            {
                keys[i] = InitialKey(ready[i], i);
            }

            Array.Sort(keys, ready);
        }

        _initialReady = ready;
        _initialHead = 0;
        _readySequence = count;
    }

    private static ReadyKey InitialKey(TaskNodeResult node, long sequence) =>
        new(node.Definition.Priority, node.Definition.CriticalPath, sequence);

    private TaskNodeResult? TakeLocked()
    {
        if (_stopReason is not null || _running >= _maxParallel)
        {
            return null;
        }

        TaskNodeResult node;
        var initialLeft = _initialHead < _initialReady.Length;
        if (initialLeft && (!_ready.TryPeek(out _, out var heapKey) || InitialKey(_initialReady[_initialHead], _initialHead).CompareTo(heapKey) <= 0))
        {
            node = _initialReady[_initialHead];
            _initialReady[_initialHead++] = null!;
        }
        else if (!_ready.TryDequeue(out node!, out _))
        {
            return null;
        }

        node.State = NodeState.Running;
        _running++;
        return node;
    }

    /// <summary>Takes a task for every free slot that a ready task can fill; each gets a new dispatcher.</summary>
    private TaskNodeResult[]? TakeForNewDispatchersLocked()
    {
        var free = Math.Min(_maxParallel - _running, ReadyCountLocked);
        if (free <= 0 || _stopReason is not null)
        {
            return null;
        }

        var taken = new TaskNodeResult[free];
        for (var i = 0; i < free; i++)
        {
            taken[i] = TakeLocked()!;
        }

        return taken;
    }

    private void StartDispatchers(TaskNodeResult[]? nodes)
    {
        if (nodes is null)
        {
            return;
        }

        foreach (var node in nodes)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Run.RunLoop(state.Node), (Run: this, Node: node), preferLocal: false);
        }
    }

    private bool TryFinishLocked()
    {
        if (_finished || _ended != _nodes.Count || _reportsInFlight != 0)
        {
            return false;
        }

        _finished = true;
        return true;
    }

    private void Finish()
    {
        _callerRegistration.Unregister();
        var endedAt = _time.GetUtcNow();
        TaskGraphResult result;
        lock (_gate)
        {
            var failures = _failures is null ? null : new AggregateException(
                $"{_failures.Count} task(s) of task graph '{_graph.Name}' failed.", _failures);
            result = new TaskGraphResult(
                new ReadOnlyCollection<TaskNodeResult>(_nodes),
                _graph,
                _dynamicIds,
                failures,
                _cancelledByCaller,
                _startedAt,
                endedAt,
                _succeeded,
                _failed,
                _skipped,
                _cancelled);
        }

        _completions?.Writer.TryComplete();
        _completion.TrySetResult(result);
    }

    /// <summary>
    /// Under the lock, before results are reported outside it: holds the run open until <see cref="EndReport"/>. Only
    /// with a progress callback (the metric has no one waiting for it).
    /// </summary>
    private void BeginReportLocked()
    {
        if (_progress is not null)
        {
            _reportsInFlight++;
        }
    }

    /// <summary>After reporting: releases the hold of <see cref="BeginReportLocked"/>; returns whether the run finished.</summary>
    private bool EndReport()
    {
        if (_progress is null)
        {
            return false;
        }

        lock (_gate)
        {
            _reportsInFlight--;
            return TryFinishLocked();
        }
    }

    private void Report(TaskNodeResult node)
    {
        if (s_tasksEnded.Enabled)
        {
            s_tasksEnded.Add(1, _nameTag, new(TelemetryTagNames.Outcome, OutcomeName(node.State)));
        }

        if (_progress is null)
        {
            return;
        }

        try
        {
            _progress.Report(node);
        }
        catch (Exception)
        {
            // A progress callback that throws must not lose the task's outcome or stall the scheduler; the outcome is
            // in the result either way.
        }
    }

    private void Report(List<TaskNodeResult>? nodes)
    {
        if (nodes is null)
        {
            return;
        }

        foreach (var node in nodes)
        {
            Report(node);
        }
    }

    private static string OutcomeName(NodeState state) => state switch
    {
        NodeState.Succeeded => "succeeded",
        NodeState.Failed => "failed",
        NodeState.Skipped => "skipped",
        _ => "cancelled",
    };
}
