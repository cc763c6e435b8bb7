using System.Diagnostics;
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
/// How it schedules (<c>TaskGraphRun.Scheduling.cs</c>): every task has a counter of dependencies that have not ended
/// (Kahn's algorithm); a task whose counter reaches zero enters a priority heap of ready tasks. Up to
/// <c>MaxDegreeOfParallelism</c> dispatchers (<c>TaskGraphRun.Execution.cs</c>) take the best ready task, run its body
/// on their own thread, and when the body completes synchronously record the outcome and take the next task in the same
/// step, under one lock acquisition. So a graph of trivial synchronous tasks runs without a thread-pool hop or an
/// allocation per task. A body that goes asynchronous keeps its slot; when it completes, its continuation hops to the
/// thread pool (never running the scheduler on the thread that completed the user's work) and becomes a dispatcher
/// again. New dispatchers are queued only when slots free up and ready tasks wait. Every loop is iterative: a
/// 100,000-task chain does not grow the stack. Failures, skips and cancellation live in
/// <c>TaskGraphRun.FailurePolicy.cs</c>; progress reports, the result and disposal in <c>TaskGraphRun.Completion.cs</c>.
/// </para>
/// <para>
/// Lifecycle: the run ends by itself when every task has ended. <see cref="Complete"/> stops dynamic additions (a
/// task's <see cref="TaskGraphContext.AddTask(string, Func{TaskGraphContext, CancellationToken, ValueTask}, string[])"/>
/// then throws); <see cref="DisposeAsync"/> also waits up to the graph's <see cref="ComponentOptions.DrainTimeout"/>,
/// then cancels the run: running tasks end cancelled, tasks not started are skipped, and each is counted as dropped
/// with <see cref="DropReason.DrainTimeout"/>.
/// </para>
/// </remarks>
// Locking: _gate guards the task states, the ready heap and initial-ready array, _ledger, _skipped, _lifecycle,
// _dynamicIds, _failures, _stopReason/_stopCause, _reportsInFlight and _finished. No user code (task bodies, progress
// callbacks, the time provider, token callbacks, instruments' listeners) runs under it; AssertInvariants() checks the
// ledger against the task states under it in Debug builds.
public sealed partial class TaskGraphRun : IExecComponent, IInstrumentedComponent
{
    private readonly object _gate = new();
    private readonly TaskGraph _graph;
    private readonly TimeProvider _time;
    private readonly int _maxParallel;
    private readonly FailurePolicy _policy;
    private readonly WorkerPool? _workerPool;
    private readonly ItemReporter _reporter;
    private readonly List<TaskNodeResult> _nodes;
    private readonly ItemLedger _ledger = new();
    private readonly Lifecycle _lifecycle = new();

    // Never disposed: it has no timer and no registration, and a body that outlives its task may still hold its token.
    private readonly CancellationTokenSource _runCancellation = new();
    private readonly CancellationToken _callerToken;
    private readonly IProgress<TaskNodeResult>? _progress;
    private readonly Channel<TaskNodeResult>? _completions;
    private readonly TaskCompletionSource<TaskGraphResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Task bodies run in the caller's execution context (AsyncLocal values, Activity.Current), each starting from the
    // context as it was at the run's start, so a body's AsyncLocal changes do not leak into the next body a
    // dispatcher runs inline. Captured in Start with this run as the ambient component, so a body's DisposeAsync knows
    // it comes from inside.
    private ExecutionContext? _executionContext;
    private Dictionary<string, int>? _dynamicIds;
    private CancellationTokenRegistration _callerRegistration;
    private List<Exception>? _failures;
    private int _skipped;
    private bool _finished;
    private DateTimeOffset _startedAt;

    // The run's span (when someone listened at its start): the parent of every task's span.
    private Activity? _runSpan;

    internal TaskGraphRun(TaskGraph graph, IProgress<TaskNodeResult>? progress, bool streamCompletions, CancellationToken cancellationToken)
    {
        _graph = graph;
        _time = graph.TimeProvider;
        _maxParallel = graph.MaxDegreeOfParallelism;
        _policy = graph.FailurePolicy;
        _workerPool = graph.WorkerPool;
        _reporter = graph.Reporter;
        _progress = progress;
        _callerToken = cancellationToken;
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
            _ledger.Accept(queued: true);
        }
    }

    /// <summary>Gets the graph's name (<see cref="ComponentOptions.Name"/>), the run's tag in metrics and spans.</summary>
    public string Name => _graph.Name;

    /// <summary>Gets the task that completes with the run's result once every task has ended. It never faults.</summary>
    public Task<TaskGraphResult> Completion => _completion.Task;

    /// <inheritdoc/>
    Task IExecComponent.Completion => _completion.Task;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    internal CancellationToken RunToken => _runCancellation.Token;

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

    /// <summary>Gets a snapshot of the run: its ledger (a task is the item) and where the tasks not started yet stand.</summary>
    /// <returns>The snapshot, taken atomically.</returns>
    public TaskGraphStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new TaskGraphStatistics(Name, _ledger.Snapshot(), ReadyCountLocked, _skipped);
        }
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_gate)
        {
            return _ledger.Snapshot();
        }
    }

    /// <summary>
    /// Stops dynamic additions: a running task's <c>TaskGraphContext.AddTask</c> or <c>AddTasks</c> throws
    /// <see cref="InvalidOperationException"/> from now on. Tasks already in the run still run. Idempotent.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            _lifecycle.TryStopIntake();
        }
    }

    internal void Start()
    {
        _startedAt = _time.GetUtcNow();

        CaptureExecutionContext();
        _reporter.Instruments.Submitted.Add(_nodes.Count, _reporter.NameTag);
        _reporter.Instruments.Live.Add(this);
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
            AssertInvariants();
        }

        StartDispatchers(dispatch);
        if (finished)
        {
            Finish();
        }
    }

    /// <summary>
    /// Starts the run's span and captures the context task bodies run in: the caller's, with this run as the ambient
    /// component and the run's span as the current activity. The caller's own context is left as it was.
    /// </summary>
    private void CaptureExecutionContext()
    {
        var previousActivity = Activity.Current;
        var previousRun = AmbientComponent<TaskGraphRun>.Current;
        _runSpan = Telemetry.StartSpan("parallelexec.graph.run", Name);
        AmbientComponent<TaskGraphRun>.Current = this;
        _executionContext = ExecutionContext.Capture();
        AmbientComponent<TaskGraphRun>.Current = previousRun;
        Activity.Current = previousActivity;
    }

    /// <summary>Checks, under the lock, that the ledger agrees with the task states.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        _ledger.AssertBalanced();
        Debug.Assert(_ledger.Submitted == _nodes.Count, "Every task of the run is counted submitted once.");
        Debug.Assert(_ledger.InFlight <= _maxParallel, "No more tasks run than MaxDegreeOfParallelism.");
        Debug.Assert(ReadyCountLocked <= _ledger.Queued, "Ready tasks are part of the queued ones.");
        Debug.Assert(!_finished || (_ledger.InFlight == 0 && _ledger.Queued == 0), "A finished run has no task left.");
    }
}
