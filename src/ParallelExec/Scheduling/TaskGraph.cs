using System.Diagnostics.Metrics;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// A validated graph of tasks and their dependencies, run with bounded parallelism, critical path first, under a
/// <see cref="Scheduling.FailurePolicy"/>. Build one with <see cref="Exec.Graph()"/>. A graph is immutable and can be
/// run any number of times, also concurrently; each run has its own state.
/// </summary>
public sealed class TaskGraph
{
    private readonly Dictionary<string, int> _ids;

    internal TaskGraph(TaskDefinition[] definitions, TaskGraphOptions options)
    {
        Definitions = definitions;
        MaxDegreeOfParallelism = options.MaxDegreeOfParallelism;
        FailurePolicy = options.FailurePolicy;
        TimeProvider = options.TimeProvider;
        Name = options.Name;
        WorkerPool = options.WorkerPool;
        DrainTimeout = options.DrainTimeout;
        Reporter = new ItemReporter(Name, TimeProvider, ComponentInstruments.Get("graph", options.MeterFactory), onDropped: null, onError: null);
        SkippedInstrument = Reporter.Instruments.GetExtra("skipped", static meter => meter.CreateCounter<long>(
            "parallelexec.graph.items.skipped", "{item}", "Tasks that never started: a dependency failed, the run stopped or was cancelled."));
        _ids = new Dictionary<string, int>(definitions.Length, StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            _ids.Add(definition.Id, definition.Index);
            if (definition.DependencyIndices.Length == 0)
            {
                InitialReadyCount++;
            }
        }
    }

    /// <summary>Gets the number of tasks in the graph (not counting tasks added at run time).</summary>
    public int Count => Definitions.Length;

    /// <summary>Gets the graph's name.</summary>
    public string Name { get; }

    /// <summary>Gets the most tasks of one run that execute at the same time.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Gets what a run does when a task fails.</summary>
    public FailurePolicy FailurePolicy { get; }

    internal TimeProvider TimeProvider { get; }

    internal WorkerPool? WorkerPool { get; }

    internal TimeSpan DrainTimeout { get; }

    /// <summary>The graph's instruments and drop reporting, shared by its runs (told apart from other graphs by name).</summary>
    internal ItemReporter Reporter { get; }

    /// <summary>Gets <c>parallelexec.graph.items.skipped</c>, the graph's own instrument.</summary>
    internal Counter<long> SkippedInstrument { get; }

    internal TaskDefinition[] Definitions { get; }

    /// <summary>The number of tasks without dependencies: the ready heap's size at the start of a run.</summary>
    internal int InitialReadyCount { get; }

    /// <summary>Runs the graph.</summary>
    /// <param name="cancellationToken">Cancels the run: running tasks see their token cancelled, tasks that have not started are skipped, and the result says <see cref="TaskGraphResult.IsCancelled"/>.</param>
    /// <returns>The result, with every task in it. The task never faults: failures and cancellation are in the result.</returns>
    public Task<TaskGraphResult> RunAsync(CancellationToken cancellationToken = default) => RunAsync(null, cancellationToken);

    /// <summary>Runs the graph, reporting each task as it ends.</summary>
    /// <param name="progress">Receives each task's result when it ends (skipped tasks included); may be <see langword="null"/>. Calls come from the scheduler's threads, and those of tasks ending at once may arrive in any order; exceptions it throws are ignored. The returned task completes only after every call has returned.</param>
    /// <param name="cancellationToken">Cancels the run: running tasks see their token cancelled, tasks that have not started are skipped, and the result says <see cref="TaskGraphResult.IsCancelled"/>.</param>
    /// <returns>The result, with every task in it. The task never faults: failures and cancellation are in the result.</returns>
    public Task<TaskGraphResult> RunAsync(IProgress<TaskNodeResult>? progress, CancellationToken cancellationToken = default)
    {
        var run = new TaskGraphRun(this, progress, streamCompletions: false, cancellationToken);
        run.Start();
        return run.Completion;
    }

    /// <summary>Starts a run whose task completions can be read as a stream, in the order the tasks end.</summary>
    /// <param name="cancellationToken">Cancels the run: running tasks see their token cancelled and tasks that have not started are skipped.</param>
    /// <returns>The run: read <see cref="TaskGraphRun.ReadCompletionsAsync"/>, await <see cref="TaskGraphRun.Completion"/>.</returns>
    public TaskGraphRun Start(CancellationToken cancellationToken = default) => Start(null, cancellationToken);

    /// <summary>Starts a run whose task completions can be read as a stream and are also reported to <paramref name="progress"/>.</summary>
    /// <param name="progress">Receives each task's result when it ends; may be <see langword="null"/>. <see cref="TaskGraphRun.Completion"/> completes only after every call has returned.</param>
    /// <param name="cancellationToken">Cancels the run: running tasks see their token cancelled and tasks that have not started are skipped.</param>
    /// <returns>The run: read <see cref="TaskGraphRun.ReadCompletionsAsync"/>, await <see cref="TaskGraphRun.Completion"/>.</returns>
    public TaskGraphRun Start(IProgress<TaskNodeResult>? progress, CancellationToken cancellationToken = default)
    {
        var run = new TaskGraphRun(this, progress, streamCompletions: true, cancellationToken);
        run.Start();
        return run;
    }

    internal int IndexOf(string taskId) => _ids.TryGetValue(taskId, out var index) ? index : -1;
}
