using ParallelExec.Scheduling;
using ParallelExec.Workers;

namespace ParallelExec;

/// <content>The task scheduler's entry points.</content>
public static partial class Exec
{
    /// <summary>Starts building a task graph: tasks with dependencies, run concurrently, critical path first.</summary>
    /// <returns>A new single-use builder with default options.</returns>
    public static TaskGraphBuilder Graph() => new();

    /// <summary>Starts building a task graph from options (copied now, validated by <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>).</summary>
    /// <param name="options">The graph options.</param>
    /// <returns>A new single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public static TaskGraphBuilder Graph(TaskGraphOptions options) => new(options);

    /// <summary>
    /// Runs independent tasks concurrently, at most <paramref name="maxDegreeOfParallelism"/> at a time, under a failure
    /// policy; the replacement for awaiting them one after another. Task <c>i</c> has the id <c>i</c> (as a string), and
    /// <see cref="TaskGraphResult.Tasks"/> lists them in input order.
    /// </summary>
    /// <typeparam name="T">The type of the tasks' values.</typeparam>
    /// <param name="tasks">The work items; each receives a token cancelled when the run is cancelled.</param>
    /// <param name="maxDegreeOfParallelism">The most tasks running at once.</param>
    /// <param name="failurePolicy"><see cref="FailurePolicy.FailFast"/> cancels the rest on the first failure; the other two policies run every task.</param>
    /// <param name="cancellationToken">Cancels running tasks and skips the ones not started.</param>
    /// <returns>The result: every task's outcome, and one exception holding the real failures.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tasks"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is not positive.</exception>
    public static Task<TaskGraphResult> RunAllAsync<T>(
        IEnumerable<Func<CancellationToken, ValueTask<T>>> tasks,
        int maxDegreeOfParallelism,
        FailurePolicy failurePolicy = FailurePolicy.FailFast,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return RunIndependentAsync(tasks, maxDegreeOfParallelism, failurePolicy, static (builder, id, task) => builder.AddTask(id, (_, ct) => task(ct)), cancellationToken);
    }

    /// <summary>
    /// Runs independent tasks that produce no value concurrently, at most <paramref name="maxDegreeOfParallelism"/> at a
    /// time, under a failure policy. Task <c>i</c> has the id <c>i</c> (as a string).
    /// </summary>
    /// <param name="tasks">The work items; each receives a token cancelled when the run is cancelled.</param>
    /// <param name="maxDegreeOfParallelism">The most tasks running at once.</param>
    /// <param name="failurePolicy"><see cref="FailurePolicy.FailFast"/> cancels the rest on the first failure; the other two policies run every task.</param>
    /// <param name="cancellationToken">Cancels running tasks and skips the ones not started.</param>
    /// <returns>The result: every task's outcome, and one exception holding the real failures.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="tasks"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is not positive.</exception>
    public static Task<TaskGraphResult> RunAllAsync(
        IEnumerable<Func<CancellationToken, ValueTask>> tasks,
        int maxDegreeOfParallelism,
        FailurePolicy failurePolicy = FailurePolicy.FailFast,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tasks);
        return RunIndependentAsync(tasks, maxDegreeOfParallelism, failurePolicy, static (builder, id, task) => builder.AddTask(id, (_, ct) => task(ct)), cancellationToken);
    }

    /// <summary>One engine for both overloads: tasks without dependencies, ids "0", "1", ..., added by <paramref name="add"/>.</summary>
    private static Task<TaskGraphResult> RunIndependentAsync<TTask>(
        IEnumerable<TTask> tasks, int maxDegreeOfParallelism, FailurePolicy failurePolicy, Action<TaskGraphBuilder, string, TTask> add,
        CancellationToken cancellationToken)
        where TTask : Delegate
    {
        var builder = CreateIndependentTasksBuilder(maxDegreeOfParallelism, failurePolicy);
        var index = 0;
        foreach (var task in tasks)
        {
            ArgumentNullException.ThrowIfNull(task, nameof(tasks));
            add(builder, IdOf(index++), task);
        }

        return RunOnWorkerPoolAsync(builder, maxDegreeOfParallelism, cancellationToken);
    }

    private static TaskGraphBuilder CreateIndependentTasksBuilder(int maxDegreeOfParallelism, FailurePolicy failurePolicy)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        if (!Enum.IsDefined(failurePolicy))
        {
            throw new ArgumentOutOfRangeException(nameof(failurePolicy), failurePolicy, "Must be a defined FailurePolicy value.");
        }

        return new TaskGraphBuilder()
            .WithMaxDegreeOfParallelism(maxDegreeOfParallelism)
            .WithFailurePolicy(failurePolicy)
            .WithName("Exec.RunAllAsync");
    }

    /// <summary>
    /// Runs the graph's tasks on a worker pool of their own, the engine <see cref="ForEachAsync{TSource, TResult}(IEnumerable{TSource}, int, Func{TSource, CancellationToken, ValueTask{TResult}}, CancellationToken)"/>
    /// runs on too; the graph adds the failure policy and the result per task. The pool's queue holds the graph's bound,
    /// so it is never full.
    /// </summary>
    private static async Task<TaskGraphResult> RunOnWorkerPoolAsync(TaskGraphBuilder builder, int maxDegreeOfParallelism, CancellationToken cancellationToken)
    {
        var pool = new WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism, QueueCapacity = maxDegreeOfParallelism, Name = "Exec.RunAllAsync" });
        await using (pool.ConfigureAwait(false))
        {
            return await builder.WithWorkerPool(pool).Build().RunAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static string IdOf(int index) => index.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
