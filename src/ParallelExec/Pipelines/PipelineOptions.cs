namespace ParallelExec.Pipelines;

/// <summary>
/// The options of a pipeline as a whole (each stage has its own <see cref="PipelineStage"/> settings). The shared
/// members (<see cref="ComponentOptions.Name"/>, <see cref="ComponentOptions.TimeProvider"/>,
/// <see cref="ComponentOptions.DrainTimeout"/>, <see cref="ComponentOptions.MeterFactory"/>) come from the base class.
/// </summary>
public sealed class PipelineOptions : ComponentOptions
{
    /// <summary>Gets or sets what a failing item does to the run.</summary>
    /// <value>Defaults to <see cref="PipelineFailurePolicy.SkipAndReport"/>.</value>
    public PipelineFailurePolicy FailurePolicy { get; set; } = PipelineFailurePolicy.SkipAndReport;

    /// <summary>
    /// Gets or sets the callback told about every item whose work threw at a stage. <see cref="FailedItem.Component"/>
    /// is the pipeline's name, <see cref="FailedItem.Key"/> the stage's name, <see cref="FailedItem.Item"/> the item as
    /// the stage received it. It runs on the stage's worker, outside any lock.
    /// </summary>
    /// <value>Defaults to <see langword="null"/> (failures are still counted per stage and recorded on the span).</value>
    public Action<FailedItem>? OnError { get; set; }

    /// <summary>
    /// Gets or sets the callback told about every item that did not run to an outcome of its own: cancelled (a stop, the
    /// caller's token, work that threw <see cref="OperationCanceledException"/>), refused or evicted by a stage's full
    /// mode, or cut by the drain timeout. <see cref="DroppedItem.Key"/> is the stage's name.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>.</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "Pipeline";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator.RequireDefined(FailurePolicy, nameof(FailurePolicy));
    }

    internal PipelineOptions Clone() => (PipelineOptions)MemberwiseClone();
}
