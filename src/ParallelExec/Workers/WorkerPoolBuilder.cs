using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// Fluent configuration of a <see cref="Workers.WorkerPool"/>, obtained from <see cref="Exec.WorkerPool()"/>. Single use: after
/// <see cref="Build"/> every method throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class WorkerPoolBuilder
{
    private readonly WorkerPoolOptions _options = new();
    private List<string>? _nullMembers;
    private bool _built;

    internal WorkerPoolBuilder()
    {
    }

    /// <summary>Sets the number of workers (<see cref="WorkerPoolOptions.WorkerCount"/>).</summary>
    /// <param name="workerCount">How many items run at the same time; validated by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder WithWorkers(int workerCount)
    {
        ThrowIfBuilt();
        _options.WorkerCount = workerCount;
        return this;
    }

    /// <summary>Sets the queue capacity and what happens when it is full.</summary>
    /// <param name="capacity">How many items may wait for a worker; validated by <see cref="Build"/>.</param>
    /// <param name="fullMode">What a submission does when the queue is full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait)
    {
        ThrowIfBuilt();
        _options.QueueCapacity = capacity;
        _options.FullMode = fullMode;
        return this;
    }

    /// <summary>Sets the callback told about dropped and rejected items (<see cref="WorkerPoolOptions.OnDropped"/>).</summary>
    /// <param name="onDropped">The callback; <see langword="null"/> is reported by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder OnDropped(Action<DroppedWorkItem> onDropped)
    {
        ThrowIfBuilt();
        RecordNull(onDropped, nameof(WorkerPoolOptions.OnDropped));
        _options.OnDropped = onDropped;
        return this;
    }

    /// <summary>Sets the callback told about failed fire-and-forget items (<see cref="WorkerPoolOptions.OnError"/>).</summary>
    /// <param name="onError">The callback; <see langword="null"/> is reported by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder OnError(Action<WorkItemFailure> onError)
    {
        ThrowIfBuilt();
        RecordNull(onError, nameof(WorkerPoolOptions.OnError));
        _options.OnError = onError;
        return this;
    }

    /// <summary>Runs every work item through a Polly pipeline (<see cref="WorkerPoolOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline; <see langword="null"/> is reported by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ThrowIfBuilt();
        RecordNull(pipeline, nameof(WorkerPoolOptions.ResiliencePipeline));
        _options.ResiliencePipeline = pipeline;
        return this;
    }

    /// <summary>Sets the clock (<see cref="WorkerPoolOptions.TimeProvider"/>).</summary>
    /// <param name="timeProvider">The clock; validated by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder WithTimeProvider(TimeProvider timeProvider)
    {
        ThrowIfBuilt();
        _options.TimeProvider = timeProvider;
        return this;
    }

    /// <summary>Sets the name that tags the pool's metrics (<see cref="WorkerPoolOptions.Name"/>).</summary>
    /// <param name="name">The name; validated by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPoolBuilder WithName(string name)
    {
        ThrowIfBuilt();
        _options.Name = name;
        return this;
    }

    /// <summary>Validates the configuration and creates the pool.</summary>
    /// <returns>A running pool.</returns>
    /// <exception cref="ArgumentException">One or more values are invalid; the message lists every one.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public WorkerPool Build()
    {
        ThrowIfBuilt();
        _built = true;
        return new WorkerPool(_options, _nullMembers);
    }

    private void RecordNull(object? value, string name)
    {
        if (value is null)
        {
            (_nullMembers ??= []).Add(name);
        }
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This WorkerPoolBuilder has already built a pool; create a new builder with Exec.WorkerPool().");
        }
    }
}
