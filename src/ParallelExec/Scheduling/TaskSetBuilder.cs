namespace ParallelExec.Scheduling;

/// <summary>
/// Collects the tasks a running task adds in one go through <see cref="TaskGraphContext.AddTasks"/>. The tasks of one set
/// may depend on each other (in any order) and on any task already in the run; the set is validated as a whole.
/// </summary>
public sealed class TaskSetBuilder
{
    private readonly List<TaskDefinition> _tasks = [];
    private bool _committed;

    internal TaskSetBuilder()
    {
    }

    /// <summary>Adds a task that produces a value.</summary>
    /// <typeparam name="T">The type of the task's value.</typeparam>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work; it receives its context and a token cancelled on timeout or run cancellation.</param>
    /// <param name="dependsOn">The ids of the tasks it depends on.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="dependsOn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> or a dependency id is empty or white space.</exception>
    /// <exception cref="InvalidOperationException">The set has already been added to the run.</exception>
    public TaskSetBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, params string[] dependsOn) =>
        Add(TaskDefinitionFactory.Create(id, body, dependsOn));

    /// <summary>Adds a task that produces a value, with per-task options.</summary>
    /// <typeparam name="T">The type of the task's value.</typeparam>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work; it receives its context and a token cancelled on timeout or run cancellation.</param>
    /// <param name="options">Dependencies, priority, cost estimate, timeout and resilience pipeline; copied.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid (one exception lists them all).</exception>
    /// <exception cref="InvalidOperationException">The set has already been added to the run.</exception>
    public TaskSetBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, TaskNodeOptions options) =>
        Add(TaskDefinitionFactory.Create(id, body, options));

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
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid.</exception>
    /// <exception cref="InvalidOperationException">The set has already been added to the run.</exception>
    public TaskSetBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, Polly.ResiliencePipeline<T> resilience, TaskNodeOptions? options = null) =>
        Add(TaskDefinitionFactory.Create(id, body, resilience, options));

    /// <summary>Adds a task that produces no value.</summary>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work; it receives its context and a token cancelled on timeout or run cancellation.</param>
    /// <param name="dependsOn">The ids of the tasks it depends on.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="dependsOn"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> or a dependency id is empty or white space.</exception>
    /// <exception cref="InvalidOperationException">The set has already been added to the run.</exception>
    public TaskSetBuilder AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, params string[] dependsOn) =>
        Add(TaskDefinitionFactory.Create(id, body, dependsOn));

    /// <summary>Adds a task that produces no value, with per-task options.</summary>
    /// <param name="id">The task's id, unique within the run.</param>
    /// <param name="body">The task's work; it receives its context and a token cancelled on timeout or run cancellation.</param>
    /// <param name="options">Dependencies, priority, cost estimate, timeout and resilience pipeline; copied.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="id"/>, <paramref name="body"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="id"/> is empty, or an option is invalid (one exception lists them all).</exception>
    /// <exception cref="InvalidOperationException">The set has already been added to the run.</exception>
    public TaskSetBuilder AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, TaskNodeOptions options) =>
        Add(TaskDefinitionFactory.Create(id, body, options));

    internal List<TaskDefinition> Commit()
    {
        _committed = true;
        return _tasks;
    }

    private TaskSetBuilder Add(TaskDefinition definition)
    {
        if (_committed)
        {
            throw new InvalidOperationException("This task set has already been added to the run; start a new AddTasks call to add more.");
        }

        _tasks.Add(definition);
        return this;
    }
}
