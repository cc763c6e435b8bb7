namespace ParallelExec.Pipelines;

/// <summary>
/// The one stage class behind <c>Select</c>, <c>SelectMany</c>, <c>Where</c>, <c>Tap</c>, <c>Unbatch</c> and
/// <c>ForEach</c>: each is a function from an item to a <see cref="StageResult{T}"/>, built by
/// <see cref="StageFunctions"/>.
/// </summary>
internal sealed class DelegateStage<TIn, TOut> : Stage<TIn, TOut>
{
    private readonly Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> _process;

    public DelegateStage(PipelineRun run, PipelineStage settings, Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> process)
        : base(run, settings) => _process = process;

    protected override ValueTask<StageResult<TOut>> ProcessAsync(TIn item, CancellationToken cancellationToken) => _process(item, cancellationToken);
}
