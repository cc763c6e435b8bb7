using ParallelExec.Workers;
using Polly;

namespace ParallelExec.Pipelines;

/// <summary>
/// The settings of one stage of a pipeline: its name, how many items it works on at once, the capacity of its input
/// queue and what a full queue does, whether it keeps input order, and a Polly pipeline its work runs through. Passed to
/// the stage methods of <see cref="PipelineBuilder{TIn, T}"/> as <c>stage =&gt; stage.WithMaxDegreeOfParallelism(8)</c>.
/// </summary>
/// <remarks>
/// A stage's memory is bounded by its <see cref="QueueCapacity"/> plus its <see cref="MaxDegreeOfParallelism"/> items in
/// flight (plus, when ordered, the completed items waiting for an earlier one: never more than the reorder window, which
/// is the queue capacity). A pipeline holds at most the sum of these over its stages, whatever the size of its source.
/// </remarks>
public sealed class PipelineStage
{
    internal PipelineStage(string defaultName) => Name = defaultName;

    /// <summary>Gets or sets the stage's name: the <see cref="FailedItem.Key"/> of its reports and the stage tag of its metrics and spans.</summary>
    /// <value>Defaults to the stage kind, numbered when a pipeline has several (<c>select</c>, <c>select2</c>, <c>where</c>...).</value>
    public string Name { get; set; }

    /// <summary>Gets or sets how many items the stage works on at once; change it while running with <see cref="PipelineRun.SetMaxDegreeOfParallelism"/>.</summary>
    /// <value>Defaults to 1.</value>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    /// <summary>Gets or sets how many items may wait in the stage's input queue.</summary>
    /// <value>Defaults to 64.</value>
    public int QueueCapacity { get; set; } = 64;

    /// <summary>
    /// Gets or sets what a full input queue does. <see cref="QueueFullMode.Wait"/> is backpressure: the stage before
    /// waits (and so, in turn, the source). The other modes drop or refuse items, reported to
    /// <see cref="PipelineOptions.OnDropped"/>.
    /// </summary>
    /// <value>Defaults to <see cref="QueueFullMode.Wait"/>.</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets the order in which the stage passes its outputs on: <see cref="ResultOrder.Input"/> keeps input order
    /// (an output waits for the outputs of earlier items, within a window of <see cref="QueueCapacity"/> items);
    /// <see cref="ResultOrder.Completion"/> passes each on as soon as it is ready.
    /// </summary>
    /// <value>Defaults to <see cref="ResultOrder.Input"/>. A stage of one worker keeps input order without a window,
    /// and then cannot be grown while it runs (build it with a <see cref="MaxDegreeOfParallelism"/> above 1, or with
    /// <see cref="ResultOrder.Completion"/>, to resize it).</value>
    public ResultOrder ResultOrder { get; set; } = ResultOrder.Input;

    /// <summary>Gets or sets a Polly pipeline (retry, timeout...) the stage's work runs through, once per item.</summary>
    /// <value>Defaults to <see langword="null"/>: the work runs directly.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>Sets <see cref="Name"/>.</summary>
    /// <param name="name">The stage's name.</param>
    /// <returns>These settings.</returns>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null, empty or white space.</exception>
    public PipelineStage WithName(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        return this;
    }

    /// <summary>Sets <see cref="MaxDegreeOfParallelism"/>.</summary>
    /// <param name="maxDegreeOfParallelism">How many items the stage works on at once.</param>
    /// <returns>These settings.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is zero or negative.</exception>
    public PipelineStage WithMaxDegreeOfParallelism(int maxDegreeOfParallelism)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        MaxDegreeOfParallelism = maxDegreeOfParallelism;
        return this;
    }

    /// <summary>Sets <see cref="QueueCapacity"/> and <see cref="FullMode"/>.</summary>
    /// <param name="capacity">How many items may wait in the stage's input queue.</param>
    /// <param name="fullMode">What a full queue does.</param>
    /// <returns>These settings.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is zero or negative, or <paramref name="fullMode"/> is not defined.</exception>
    public PipelineStage WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (!Enum.IsDefined(fullMode))
        {
            throw new ArgumentOutOfRangeException(nameof(fullMode), fullMode, "The full mode is not a defined QueueFullMode value.");
        }

        QueueCapacity = capacity;
        FullMode = fullMode;
        return this;
    }

    /// <summary>Sets <see cref="ResultOrder"/>.</summary>
    /// <param name="order">The order in which outputs are passed on.</param>
    /// <returns>These settings.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="order"/> is not defined.</exception>
    public PipelineStage WithResultOrder(ResultOrder order)
    {
        if (!Enum.IsDefined(order))
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, "The order is not a defined ResultOrder value.");
        }

        ResultOrder = order;
        return this;
    }

    /// <summary>Sets <see cref="ResiliencePipeline"/>.</summary>
    /// <param name="pipeline">The Polly pipeline.</param>
    /// <returns>These settings.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    public PipelineStage WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        ResiliencePipeline = pipeline;
        return this;
    }

    /// <summary>Checks the settings once the user's configuration has run.</summary>
    internal void Validate()
    {
        var validator = new OptionsValidator(nameof(PipelineStage));
        validator
            .Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), Name, "must not be empty or white space")
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .RequireDefined(ResultOrder, nameof(ResultOrder));
        validator.ThrowIfInvalid();
    }
}
