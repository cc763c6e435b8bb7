using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// Builds a <see cref="TaskGraph"/>: add tasks with their dependencies, set the graph options, then
/// <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>. Start from <see cref="Exec.Graph()"/>. A builder
/// is single use; name, clock, drain timeout and meter come from <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}"/>.
/// </summary>
/// <example>
/// <code>
/// var graph = Exec.Graph()
///     .WithMaxDegreeOfParallelism(4)
///     .AddTask("fetch", async (ctx, ct) => await FetchAsync(ct))
///     .AddTask("parse", (ctx, ct) => ValueTask.FromResult(Parse(ctx.GetResult&lt;string&gt;("fetch"))), "fetch")
///     .Build();
/// TaskGraphResult result = await graph.RunAsync(cancellationToken);
/// </code>
/// </example>
public sealed class TaskGraphBuilder : ComponentBuilder<TaskGraphBuilder, TaskGraphOptions, TaskGraph>
{
    private readonly List<TaskDefinition> _tasks = [];

    /// <summary>Initializes a builder with default options.</summary>
    public TaskGraphBuilder()
        : base(new TaskGraphOptions())
    {
    }

    /// <summary>Initializes a builder from options; their values are copied now and validated by <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>.</summary>
    /// <param name="options">The graph options.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public TaskGraphBuilder(TaskGraphOptions options)
        : base((options ?? throw new ArgumentNullException(nameof(options))).Clone())
    {
    }

    /// <summary>Sets the most tasks that execute at the same time (<see cref="TaskGraphOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero; checked by <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) =>
        Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Sets what a run does when a task fails (<see cref="TaskGraphOptions.FailurePolicy"/>).</summary>
    /// <param name="failurePolicy">The policy.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithFailurePolicy(FailurePolicy failurePolicy) => Set(o => o.FailurePolicy = failurePolicy);

    /// <summary>Runs the tasks on a worker pool shared with other work (<see cref="TaskGraphOptions.WorkerPool"/>).</summary>
    /// <param name="workerPool">The pool, or <see langword="null"/> to run on the scheduler's own dispatchers.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithWorkerPool(WorkerPool? workerPool) => Set(o => o.WorkerPool = workerPool);

    /// <inheritdoc cref="TaskSetBuilder.AddTask{T}(string, Func{TaskGraphContext, CancellationToken, ValueTask{T}}, string[])"/>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, params string[] dependsOn)
    {
        ThrowIfBuilt();
        _tasks.Add(TaskDefinitionFactory.Create(id, body, dependsOn));
        return this;
    }

    /// <inheritdoc cref="TaskSetBuilder.AddTask{T}(string, Func{TaskGraphContext, CancellationToken, ValueTask{T}}, TaskNodeOptions)"/>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, TaskNodeOptions options)
    {
        ThrowIfBuilt();
        _tasks.Add(TaskDefinitionFactory.Create(id, body, options));
        return this;
    }

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
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder AddTask<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, Polly.ResiliencePipeline<T> resilience, TaskNodeOptions? options = null)
    {
        ThrowIfBuilt();
        _tasks.Add(TaskDefinitionFactory.Create(id, body, resilience, options));
        return this;
    }

    /// <inheritdoc cref="TaskSetBuilder.AddTask(string, Func{TaskGraphContext, CancellationToken, ValueTask}, string[])"/>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, params string[] dependsOn)
    {
        ThrowIfBuilt();
        _tasks.Add(TaskDefinitionFactory.Create(id, body, dependsOn));
        return this;
    }

    /// <inheritdoc cref="TaskSetBuilder.AddTask(string, Func{TaskGraphContext, CancellationToken, ValueTask}, TaskNodeOptions)"/>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder AddTask(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, TaskNodeOptions options)
    {
        ThrowIfBuilt();
        _tasks.Add(TaskDefinitionFactory.Create(id, body, options));
        return this;
    }

    /// <summary>
    /// Validates the graph (duplicate ids, unknown dependencies, self-dependencies, cycles), computes each task's default
    /// priority (its cost-weighted longest path to the end), and builds the graph; the options are already validated.
    /// </summary>
    /// <param name="options">The validated options.</param>
    /// <returns>The graph, which can be run any number of times.</returns>
    /// <exception cref="TaskGraphValidationException">The tasks do not form a valid graph; the message lists every problem, or the cycle's tasks in order.</exception>
    protected override TaskGraph Create(TaskGraphOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        GraphValidator.Validate(_tasks, 0, null, "task graph");
        return new TaskGraph([.. _tasks], options);
    }
}
