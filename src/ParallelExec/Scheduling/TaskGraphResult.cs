using System.Diagnostics.CodeAnalysis;

namespace ParallelExec.Scheduling;

/// <summary>
/// The outcome of one <see cref="TaskGraph"/> run: every task exactly once (static tasks in the order they were added,
/// then tasks added at run time in the order they were added), the run's timings, and one exception holding the real
/// failures.
/// </summary>
public sealed class TaskGraphResult
{
    private readonly TaskGraph _graph;
    private readonly Dictionary<string, int>? _dynamicIds;

    internal TaskGraphResult(
        IReadOnlyList<TaskNodeResult> tasks,
        TaskGraph graph,
        Dictionary<string, int>? dynamicIds,
        AggregateException? exception,
        bool isCancelled,
        DateTimeOffset startedAt,
        DateTimeOffset endedAt,
        LedgerSnapshot ledger,
        int skipped)
    {
        Tasks = tasks;
        _graph = graph;
        _dynamicIds = dynamicIds;
        Exception = exception;
        IsCancelled = isCancelled;
        StartedAt = startedAt;
        EndedAt = endedAt;
        Ledger = ledger;
        Skipped = skipped;
    }

    /// <summary>Gets every task of the run, each exactly once.</summary>
    public IReadOnlyList<TaskNodeResult> Tasks { get; }

    /// <summary>
    /// Gets the real failures of the run (tasks that threw or timed out), in the order they happened, or
    /// <see langword="null"/> when no task failed. Cancellations and skips a failure caused are not in it.
    /// </summary>
    public AggregateException? Exception { get; }

    /// <summary>
    /// Gets a value indicating whether the run was cancelled before every task could run: by the caller's token, or by
    /// <see cref="TaskGraphRun.DisposeAsync"/> when the drain timeout passed.
    /// </summary>
    public bool IsCancelled { get; }

    /// <summary>Gets a value indicating whether every task succeeded.</summary>
    public bool IsSuccess => Ledger.Succeeded == Tasks.Count;

    /// <summary>
    /// Gets where every task of the run ended (a task is the ledger's item): <see cref="LedgerSnapshot.Succeeded"/>,
    /// <see cref="LedgerSnapshot.Failed"/>, <see cref="LedgerSnapshot.Cancelled"/> (tasks cancelled while running and
    /// skipped tasks, see <see cref="Skipped"/>) and <see cref="LedgerSnapshot.Dropped"/> (tasks cut by a passed drain
    /// timeout). Nothing is in flight or queued any more.
    /// </summary>
    public LedgerSnapshot Ledger { get; }

    /// <summary>Gets how many tasks never started (counted in <see cref="LedgerSnapshot.Cancelled"/> of <see cref="Ledger"/>, or in <see cref="LedgerSnapshot.Dropped"/> when a drain timeout cut them).</summary>
    public int Skipped { get; }

    /// <summary>Gets when the run started, by the graph's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>Gets when the last task ended, by the graph's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset EndedAt { get; }

    /// <summary>Gets how long the run took.</summary>
    public TimeSpan Elapsed => EndedAt - StartedAt;

    /// <summary>Gets the result of the task with the given id.</summary>
    /// <param name="taskId">The task's id.</param>
    /// <returns>The task's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="taskId"/> is <see langword="null"/>.</exception>
    /// <exception cref="KeyNotFoundException">The run has no task with that id.</exception>
    public TaskNodeResult this[string taskId] =>
        TryGetTask(taskId, out var task) ? task : throw new KeyNotFoundException($"The run has no task '{taskId}'.");

    /// <summary>Looks up the result of the task with the given id.</summary>
    /// <param name="taskId">The task's id.</param>
    /// <param name="task">The task's result, when found.</param>
    /// <returns><see langword="true"/> when the run has a task with that id.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="taskId"/> is <see langword="null"/>.</exception>
    public bool TryGetTask(string taskId, [NotNullWhen(true)] out TaskNodeResult? task)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        var index = _graph.IndexOf(taskId);
        if (index < 0 && _dynamicIds is not null && _dynamicIds.TryGetValue(taskId, out var dynamicIndex))
        {
            index = dynamicIndex;
        }

        task = index >= 0 ? Tasks[index] : null;
        return task is not null;
    }

    /// <summary>Gets the value of a task that succeeded.</summary>
    /// <typeparam name="T">The type the task returned.</typeparam>
    /// <param name="taskId">The task's id.</param>
    /// <returns>The value.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="taskId"/> is <see langword="null"/>.</exception>
    /// <exception cref="KeyNotFoundException">The run has no task with that id.</exception>
    /// <exception cref="InvalidOperationException">The task did not succeed, or returns no value.</exception>
    /// <exception cref="InvalidCastException">The task's value is not a <typeparamref name="T"/>.</exception>
    public T GetValue<T>(string taskId) => this[taskId].GetValue<T>();

    /// <summary>
    /// Throws when the run did not fully succeed: <see cref="Exception"/> when a task failed, otherwise an
    /// <see cref="OperationCanceledException"/> when the run was cancelled.
    /// </summary>
    /// <exception cref="AggregateException">At least one task failed.</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled and no task failed.</exception>
    public void ThrowIfFailed()
    {
        if (Exception is not null)
        {
            throw Exception;
        }

        if (IsCancelled || !IsSuccess)
        {
            throw new OperationCanceledException(
                $"The task graph run was cancelled: {Ledger.Succeeded} of {Tasks.Count} tasks succeeded.");
        }
    }
}
