using Polly;

namespace ParallelExec.Workers;

/// <summary>
/// Fluent configuration of a <see cref="Workers.WorkerPool"/>, obtained from <see cref="Exec.WorkerPool()"/>. The shared
/// methods (<c>Configure</c>, <c>WithName</c>, <c>WithTimeProvider</c>, <c>WithDrainTimeout</c>,
/// <c>WithMeterFactory</c>, <c>Build</c>) come from <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}"/>.
/// </summary>
public sealed class WorkerPoolBuilder : ComponentBuilder<WorkerPoolBuilder, WorkerPoolOptions, WorkerPool>
{
    internal WorkerPoolBuilder()
        : base(new WorkerPoolOptions())
    {
    }

    /// <summary>Sets how many items run at the same time (<see cref="WorkerPoolOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">The number of workers; validated by <c>Build</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) =>
        Set(options => options.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Sets the queue capacity and what happens when it is full.</summary>
    /// <param name="capacity">How many items may wait for a worker; validated by <c>Build</c>.</param>
    /// <param name="fullMode">What a submission does when the queue is full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) =>
        Set(options =>
        {
            options.QueueCapacity = capacity;
            options.FullMode = fullMode;
        });

    /// <summary>Turns on priorities (<see cref="WorkerPoolOptions.PriorityLanes"/>, <see cref="WorkerPoolOptions.StarvationLimit"/>).</summary>
    /// <param name="lanes">The number of lanes, 2 to 16; a submission names one from 0 (lowest) to <paramref name="lanes"/> - 1.</param>
    /// <param name="starvationLimit">How many times a waiting lane may be passed over before it is served.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder WithPriorityLanes(int lanes, int starvationLimit = 8) =>
        Set(options =>
        {
            options.PriorityLanes = lanes;
            options.StarvationLimit = starvationLimit;
        });

    /// <summary>Runs every work item through a Polly pipeline (<see cref="WorkerPoolOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(options => options.ResiliencePipeline = pipeline);
    }

    /// <summary>Sets the callback told about dropped, refused and cancelled items (<see cref="WorkerPoolOptions.OnDropped"/>).</summary>
    /// <param name="onDropped">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder OnDropped(Action<DroppedItem> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        return Set(options => options.OnDropped = onDropped);
    }

    /// <summary>Sets the callback told about failed fire-and-forget items (<see cref="WorkerPoolOptions.OnError"/>).</summary>
    /// <param name="onError">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onError"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its pool.</exception>
    public WorkerPoolBuilder OnError(Action<FailedItem> onError)
    {
        ArgumentNullException.ThrowIfNull(onError);
        return Set(options => options.OnError = onError);
    }

    /// <inheritdoc/>
    protected override WorkerPool Create(WorkerPoolOptions options) => new(options);
}
