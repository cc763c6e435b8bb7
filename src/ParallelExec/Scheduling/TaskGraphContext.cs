namespace ParallelExec.Scheduling;

/// <summary>
/// What a running task sees of its graph: the typed results of its dependencies, and the means to add tasks to the run
/// (fan-out discovered at run time). A small value passed to every task body; it allocates nothing.
/// </summary>
/// <remarks>
/// A context is valid while its task runs. Tasks added through it are validated like a built graph (duplicate ids,
/// unknown dependencies, self-dependencies, cycles) and may depend on any task of the run, including the adding task
/// (they then start after it ends). The priorities of tasks already in the run are not recomputed.
/// </remarks>
public readonly struct TaskGraphContext : IEquatable<TaskGraphContext>
{
    private readonly TaskGraphRun? _run;
    private readonly TaskNodeResult? _node;

    internal TaskGraphContext(TaskGraphRun run, TaskNodeResult node)
    {
        _run = run;
        _node = node;
    }

    /// <summary>Gets the id of the running task.</summary>
    /// <exception cref="InvalidOperationException">The context is <see langword="default"/>, not one given to a task.</exception>
    public string TaskId => Node.Id;

    /// <summary>Gets the ids of the running task's dependencies.</summary>
    /// <exception cref="InvalidOperationException">The context is <see langword="default"/>, not one given to a task.</exception>
    public IReadOnlyList<string> Dependencies => Node.DependsOn;

    /// <summary>Gets the token that is cancelled when the run is cancelled (by the caller or by a failure under FailFast).</summary>
    /// <exception cref="InvalidOperationException">The context is <see langword="default"/>, not one given to a task.</exception>
    public CancellationToken RunCancellationToken => Run.RunToken;

    private TaskGraphRun Run => _run ?? throw NotAttached();

    private TaskNodeResult Node => _node ?? throw NotAttached();

    /// <summary>Reads the value of a dependency that succeeded.</summary>
    /// <typeparam name="T">The type the dependency returned.</typeparam>
    /// <param name="taskId">The id of one of this task's direct dependencies.</param>
    /// <returns>The dependency's value.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="taskId"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="taskId"/> is not a direct dependency of this task.</exception>
    /// <exception cref="InvalidOperationException">The dependency did not succeed (possible under <see cref="FailurePolicy.ContinueAll"/>; the inner exception is its failure), or returns no value.</exception>
    /// <exception cref="InvalidCastException">The dependency's value is not a <typeparamref name="T"/>.</exception>
    public T GetResult<T>(string taskId) => GetDependency(taskId).GetValue<T>();

    /// <summary>Gets how a direct dependency ended (it always has, before this task starts).</summary>
    /// <param name="taskId">The id of one of this task's direct dependencies.</param>
    /// <returns>The dependency's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="taskId"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="taskId"/> is not a direct dependency of this task.</exception>
    public TaskNodeResult GetDependency(string taskId) => Run.GetDependency(Node, taskId);

    /// <summary>Adds one task producing a value to the run.</summary>
    /// <typeparam name="T">The type of the task's value.</typeparam>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work.</param>
    /// <param name="dependsOn">The ids of the tasks it depends on (any task of the run, including this one).</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> or a dependency id is empty or white space.</exception>
    /// <exception cref="TaskGraphValidationException">The id exists, a dependency is unknown, or the task depends on itself.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, params string[] dependsOn) =>
        Run.AddTasks(Node, [TaskDefinitionFactory.Create(id, body, dependsOn)]);

    /// <summary>Adds one task producing a value to the run, with per-task options.</summary>
    /// <typeparam name="T">The type of the task's value.</typeparam>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work.</param>
    /// <param name="options">Dependencies, priority, cost estimate, timeout and resilience pipeline; copied.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid.</exception>
    /// <exception cref="TaskGraphValidationException">The id exists, a dependency is unknown, or the task depends on itself.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, TaskNodeOptions options) =>
        Run.AddTasks(Node, [TaskDefinitionFactory.Create(id, body, options)]);

    /// <summary>
    /// Adds a task that produces a value through a result-aware Polly pipeline: hedging, or a retry decided on the result,
    /// plug in here. A non-generic <see cref="TaskNodeOptions.ResiliencePipeline"/> in <paramref name="options"/> runs
    /// around it.
    /// </summary>
    /// <typeparam name="T">The type of the task's value.</typeparam>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work; it receives its context and a token cancelled on timeout or run cancellation.</param>
    /// <param name="resilience">The Polly pipeline, which sees each result.</param>
    /// <param name="options">Dependencies, priority, cost estimate, timeout; copied. <see langword="null"/>: no dependency.</param>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid.</exception>
    /// <exception cref="TaskGraphValidationException">The id exists, a dependency is unknown, or the task depends on itself.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, Polly.ResiliencePipeline<T> resilience, TaskNodeOptions? options = null) =>
        Run.AddTasks(Node, [TaskDefinitionFactory.Create(id, body, resilience, options)]);

    /// <summary>Adds one task producing no value to the run.</summary>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work.</param>
    /// <param name="dependsOn">The ids of the tasks it depends on (any task of the run, including this one).</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> or a dependency id is empty or white space.</exception>
    /// <exception cref="TaskGraphValidationException">The id exists, a dependency is unknown, or the task depends on itself.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, params string[] dependsOn) =>
        Run.AddTasks(Node, [TaskDefinitionFactory.Create(id, body, dependsOn)]);

    /// <summary>Adds one task producing no value to the run, with per-task options.</summary>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work.</param>
    /// <param name="options">Dependencies, priority, cost estimate, timeout and resilience pipeline; copied.</param>
    /// <exception cref="ArgumentNullException">An argument is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid.</exception>
    /// <exception cref="TaskGraphValidationException">The id exists, a dependency is unknown, or the task depends on itself.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, TaskNodeOptions options) =>
        Run.AddTasks(Node, [TaskDefinitionFactory.Create(id, body, options)]);

    /// <summary>
    /// Adds a set of tasks to the run at once. Tasks of the set may depend on each other in any order; the set is
    /// validated as a whole (duplicate ids, unknown dependencies, self-dependencies, cycles) and added entirely or not at all.
    /// </summary>
    /// <param name="define">Adds the tasks to the given set builder.</param>
    /// <exception cref="ArgumentNullException"><paramref name="define"/> is <see langword="null"/>.</exception>
    /// <exception cref="TaskGraphValidationException">The set is invalid; nothing was added.</exception>
    /// <exception cref="InvalidOperationException">This task has already ended.</exception>
    public void AddTasks(Action<TaskSetBuilder> define)
    {
        ArgumentNullException.ThrowIfNull(define);
        var set = new TaskSetBuilder();
        define(set);
        Run.AddTasks(Node, set.Commit());
    }

    /// <inheritdoc/>
    public bool Equals(TaskGraphContext other) => ReferenceEquals(_run, other._run) && ReferenceEquals(_node, other._node);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is TaskGraphContext other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(_run, _node);

    /// <summary>Compares two contexts for equality.</summary>
    /// <param name="left">The first context.</param>
    /// <param name="right">The second context.</param>
    /// <returns><see langword="true"/> when both belong to the same task of the same run.</returns>
    public static bool operator ==(TaskGraphContext left, TaskGraphContext right) => left.Equals(right);

    /// <summary>Compares two contexts for inequality.</summary>
    /// <param name="left">The first context.</param>
    /// <param name="right">The second context.</param>
    /// <returns><see langword="true"/> unless both belong to the same task of the same run.</returns>
    public static bool operator !=(TaskGraphContext left, TaskGraphContext right) => !left.Equals(right);

    private static InvalidOperationException NotAttached() =>
        new("This TaskGraphContext is a default value; use the context a task body receives.");
}
