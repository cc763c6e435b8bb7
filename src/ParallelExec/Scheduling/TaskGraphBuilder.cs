using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <summary>
/// Builds a <see cref="TaskGraph"/>: add tasks with their dependencies, set the graph options, then
/// <see cref="Build"/>. Start from <see cref="Exec.Graph()"/>. A builder is single use.
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
public sealed class TaskGraphBuilder
{
    private readonly List<TaskDefinition> _tasks = [];
    private int _maxDegreeOfParallelism;
    private FailurePolicy _failurePolicy;
    private TimeProvider _timeProvider;
    private string _name;
    private WorkerPool? _workerPool;
    private bool _built;

    /// <summary>Initializes a builder with default options.</summary>
    public TaskGraphBuilder()
        : this(new TaskGraphOptions())
    {
    }

    /// <summary>Initializes a builder from options; their values are copied now and validated by <see cref="Build"/>.</summary>
    /// <param name="options">The graph options.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    public TaskGraphBuilder(TaskGraphOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _maxDegreeOfParallelism = options.MaxDegreeOfParallelism;
        _failurePolicy = options.FailurePolicy;
        _timeProvider = options.TimeProvider;
        _name = options.Name;
        _workerPool = options.WorkerPool;
    }

    /// <summary>Sets the most tasks that execute at the same time (<see cref="TaskGraphOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero; checked by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism)
    {
        ThrowIfBuilt();
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
        return this;
    }

    /// <summary>Sets what a run does when a task fails (<see cref="TaskGraphOptions.FailurePolicy"/>).</summary>
    /// <param name="failurePolicy">The policy.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithFailurePolicy(FailurePolicy failurePolicy)
    {
        ThrowIfBuilt();
        _failurePolicy = failurePolicy;
        return this;
    }

    /// <summary>Sets the clock for timestamps and timeouts (<see cref="TaskGraphOptions.TimeProvider"/>).</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithTimeProvider(TimeProvider timeProvider)
    {
        ThrowIfBuilt();
        _timeProvider = timeProvider;
        return this;
    }

    /// <summary>Sets the graph's name for metrics (<see cref="TaskGraphOptions.Name"/>).</summary>
    /// <param name="name">The name.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithName(string name)
    {
        ThrowIfBuilt();
        _name = name;
        return this;
    }

    /// <summary>Runs the tasks on a worker pool shared with other work (<see cref="TaskGraphOptions.WorkerPool"/>).</summary>
    /// <param name="workerPool">The pool, or <see langword="null"/> to run on the scheduler's own dispatchers.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraphBuilder WithWorkerPool(WorkerPool? workerPool)
    {
        ThrowIfBuilt();
        _workerPool = workerPool;
        return this;
    }

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
    /// Validates the options and the graph (duplicate ids, unknown dependencies, self-dependencies, cycles), computes
    /// each task's default priority (its cost-weighted longest path to the end), and builds the graph.
    /// </summary>
    /// <returns>The graph, which can be run any number of times.</returns>
    /// <exception cref="ArgumentException">An option is invalid; one exception lists them all.</exception>
    /// <exception cref="TaskGraphValidationException">The tasks do not form a valid graph; the message lists every problem, or the cycle's tasks in order.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public TaskGraph Build()
    {
        ThrowIfBuilt();
        new OptionsValidator(nameof(TaskGraphOptions))
            .RequirePositive(_maxDegreeOfParallelism, nameof(TaskGraphOptions.MaxDegreeOfParallelism))
            .RequireDefined(_failurePolicy, nameof(TaskGraphOptions.FailurePolicy))
            .RequireNotNull(_timeProvider, nameof(TaskGraphOptions.TimeProvider))
            .Require(!string.IsNullOrEmpty(_name), nameof(TaskGraphOptions.Name), _name, "must not be null or empty")
            .ThrowIfInvalid();
        GraphValidator.Validate(_tasks, 0, null, "task graph");
        _built = true;
        return new TaskGraph([.. _tasks], _maxDegreeOfParallelism, _failurePolicy, _timeProvider, _name, _workerPool);
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This TaskGraphBuilder has already built its graph; builders are single use.");
        }
    }
}
