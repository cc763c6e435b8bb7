namespace ParallelExec.Pipelines;

/// <summary>
/// One stage of a pipeline's plan: what the builder recorded, and how to create the stage for a run and connect it to
/// the next (typed here, so the run itself handles stages of any item types).
/// </summary>
internal abstract class StageSpec(PipelineStage settings)
{
    public PipelineStage Settings { get; } = settings;

    public abstract StageCore Create(PipelineRun run);

    /// <summary>Gets where the stage before writes into this stage (a <see cref="StageTarget{T}"/> of this stage's input type).</summary>
    public abstract object InputOf(StageCore stage);

    /// <summary>Sets where this stage writes (a <see cref="StageTarget{T}"/> of its output type).</summary>
    public abstract void Connect(StageCore stage, object target);
}

internal sealed class DelegateStageSpec<TIn, TOut>(PipelineStage settings, Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> process)
    : StageSpec(settings)
{
    public override StageCore Create(PipelineRun run) => new DelegateStage<TIn, TOut>(run, Settings, process);

    public override object InputOf(StageCore stage) => ((DelegateStage<TIn, TOut>)stage).Input;

    public override void Connect(StageCore stage, object target) => ((DelegateStage<TIn, TOut>)stage).Target = (StageTarget<TOut>)target;
}

internal sealed class BatchStageSpec<T>(PipelineStage settings, int maxBatchSize, TimeSpan maxDelay) : StageSpec(settings)
{
    public override StageCore Create(PipelineRun run) => new BatchStage<T>(run, Settings, maxBatchSize, maxDelay);

    public override object InputOf(StageCore stage) => ((BatchStage<T>)stage).Input;

    public override void Connect(StageCore stage, object target) => ((BatchStage<T>)stage).Target = (StageTarget<IReadOnlyList<T>>)target;
}

/// <summary>A stage whose outputs go to a fixed target (a user's channel), connected when each run creates it.</summary>
internal sealed class ConnectedStageSpec(StageSpec inner, Func<StageCore, object> target) : StageSpec(inner.Settings)
{
    public override StageCore Create(PipelineRun run)
    {
        var stage = inner.Create(run);
        inner.Connect(stage, target(stage));
        return stage;
    }

    public override object InputOf(StageCore stage) => inner.InputOf(stage);

    public override void Connect(StageCore stage, object target) => inner.Connect(stage, target);
}
