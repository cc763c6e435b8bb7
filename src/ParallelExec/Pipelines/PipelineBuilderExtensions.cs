namespace ParallelExec.Pipelines;

/// <summary>Stage methods that apply only to some item types.</summary>
public static class PipelineBuilderExtensions
{
    /// <summary>Adds a stage that passes on the items of each batch one by one (the inverse of <c>Batch</c>).</summary>
    /// <typeparam name="TIn">The type of the source's items.</typeparam>
    /// <typeparam name="TItem">The type of the items in the batches.</typeparam>
    /// <param name="builder">The builder whose items are batches.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already been extended or has built.</exception>
    public static PipelineBuilder<TIn, TItem> Unbatch<TIn, TItem>(this PipelineBuilder<TIn, IReadOnlyList<TItem>> builder, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var stage = builder.Settings("unbatch", configure);
        return builder.Extend<TItem>(new DelegateStageSpec<IReadOnlyList<TItem>, TItem>(stage, StageFunctions.SelectMany<IReadOnlyList<TItem>, TItem>(static batch => batch, stage.ResiliencePipeline)));
    }
}
