using System.Threading.Channels;
using Polly;

namespace ParallelExec.Pipelines;

/// <summary>
/// Fluent construction of a pipeline, from <see cref="Exec.Pipeline{TIn}"/>: each stage method returns a builder of the
/// stage's output type, and a terminal (<see cref="ForEach(Func{T, CancellationToken, ValueTask}, Action{PipelineStage})"/>,
/// <see cref="ToChannel"/>, <see cref="ToAsyncEnumerable"/>) or <c>Build()</c> ends it. The shared methods
/// (<c>Configure</c>, <c>WithName</c>, <c>WithTimeProvider</c>, <c>WithDrainTimeout</c>, <c>WithMeterFactory</c>) come
/// from <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}"/> and may be called at any point of the chain.
/// </summary>
/// <remarks>
/// A builder is used once: after a stage method has returned the next builder, or after it has built, it refuses
/// further calls. Every stage method takes an optional <c>configure</c> for the stage's <see cref="PipelineStage"/>
/// settings (name, <c>MaxDegreeOfParallelism</c>, queue, order, resilience).
/// </remarks>
/// <typeparam name="TIn">The type of the source's items.</typeparam>
/// <typeparam name="T">The type of the items the last stage so far produces.</typeparam>
public sealed class PipelineBuilder<TIn, T> : ComponentBuilder<PipelineBuilder<TIn, T>, PipelineOptions, Pipeline<TIn>>
{
    private readonly List<StageSpec> _plan;
    private bool _extended;
    private int _outputCapacity;

    internal PipelineBuilder(PipelineOptions options, List<StageSpec> plan)
        : base(options) => _plan = plan;

    /// <summary>Sets what a failing item does to the run (<see cref="PipelineOptions.FailurePolicy"/>).</summary>
    /// <param name="policy">Skip and report, or stop.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has been extended or has built.</exception>
    public PipelineBuilder<TIn, T> WithFailurePolicy(PipelineFailurePolicy policy) => Set(options => options.FailurePolicy = policy);

    /// <summary>Sets the callback told about failed items (<see cref="PipelineOptions.OnError"/>).</summary>
    /// <param name="onError">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onError"/> is <see langword="null"/>.</exception>
    public PipelineBuilder<TIn, T> OnError(Action<FailedItem> onError)
    {
        ArgumentNullException.ThrowIfNull(onError);
        return Set(options => options.OnError = onError);
    }

    /// <summary>Sets the callback told about dropped items (<see cref="PipelineOptions.OnDropped"/>).</summary>
    /// <param name="onDropped">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    public PipelineBuilder<TIn, T> OnDropped(Action<DroppedItem> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        return Set(options => options.OnDropped = onDropped);
    }

    /// <summary>Adds a stage that transforms each item synchronously (CPU-bound work: parsing, mapping).</summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="selector">The transform.</param>
    /// <param name="configure">Configures the stage (<see cref="PipelineStage"/>).</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, TOut> Select<TOut>(Func<T, TOut> selector, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var stage = Settings("select", configure);
        return Extend<TOut>(new DelegateStageSpec<T, TOut>(stage, StageFunctions.Select(selector, stage.ResiliencePipeline)));
    }

    /// <summary>Adds a stage that transforms each item asynchronously (I/O: a call, a query).</summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="selector">The transform; its token is cancelled when the run is.</param>
    /// <param name="configure">Configures the stage (<see cref="PipelineStage"/>).</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, TOut> Select<TOut>(Func<T, CancellationToken, ValueTask<TOut>> selector, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var stage = Settings("select", configure);
        return Extend<TOut>(new DelegateStageSpec<T, TOut>(stage, StageFunctions.SelectAsync(selector, stage.ResiliencePipeline)));
    }

    /// <summary>
    /// Adds an asynchronous transform that runs through a result-aware Polly pipeline: hedging, or a retry decided on
    /// the result (<c>ShouldHandle</c> on the outcome), plug in here.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="selector">The transform.</param>
    /// <param name="resilience">The Polly pipeline, which sees each result.</param>
    /// <param name="configure">Configures the stage; a non-generic <see cref="PipelineStage.ResiliencePipeline"/> set there runs inside this one.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> or <paramref name="resilience"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, TOut> Select<TOut>(
        Func<T, CancellationToken, ValueTask<TOut>> selector, ResiliencePipeline<TOut> resilience, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        ArgumentNullException.ThrowIfNull(resilience);
        var stage = Settings("select", configure);
        var inner = StageFunctions.WithResilience(selector, stage.ResiliencePipeline);
        return Extend<TOut>(new DelegateStageSpec<T, TOut>(stage, StageFunctions.SelectAsync(inner, resilience)));
    }

    /// <summary>Adds a stage that turns each item into any number of outputs, passed on one by one.</summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="selector">The expansion; the sequence is enumerated as its outputs are passed on.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, TOut> SelectMany<TOut>(Func<T, IEnumerable<TOut>> selector, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var stage = Settings("selectmany", configure);
        return Extend<TOut>(new DelegateStageSpec<T, TOut>(stage, StageFunctions.SelectMany(selector, stage.ResiliencePipeline)));
    }

    /// <summary>
    /// Adds a stage that turns each item into an asynchronous sequence of outputs (pages of an API, lines of a file),
    /// passed on one by one as they arrive: the next stage's backpressure paces the enumeration.
    /// </summary>
    /// <typeparam name="TOut">The output type.</typeparam>
    /// <param name="selector">The expansion; it receives the run's token, which also cancels the enumeration.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <remarks>
    /// The item counts as left once its sequence has ended; a sequence that throws part-way fails the item (the outputs
    /// already passed on stay passed on). The stage's resilience pipeline covers the call that returns the sequence, not
    /// its enumeration: outputs already passed on cannot be taken back to retry.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="selector"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, TOut> SelectMany<TOut>(Func<T, CancellationToken, IAsyncEnumerable<TOut>> selector, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(selector);
        var stage = Settings("selectmany", configure);
        return Extend<TOut>(new DelegateStageSpec<T, TOut>(stage, StageFunctions.SelectManyAsync(selector, stage.ResiliencePipeline)));
    }

    /// <summary>Adds a stage that passes on only the items the predicate accepts; the others are counted filtered.</summary>
    /// <param name="predicate">The filter.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="predicate"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, T> Where(Func<T, bool> predicate, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var stage = Settings("where", configure);
        return Extend<T>(new DelegateStageSpec<T, T>(stage, StageFunctions.Where(predicate, stage.ResiliencePipeline)));
    }

    /// <summary>
    /// Adds a stage that groups items into batches of up to <paramref name="maxBatchSize"/>, flushed when full or when
    /// the oldest item has waited <paramref name="maxDelay"/> (on the pipeline's clock). It runs on a
    /// <see cref="Batching.BatchProcessor{TItem, TResult}"/>: the stage's <c>MaxDegreeOfParallelism</c> bounds the batches
    /// in flight and its queue capacity (at least <paramref name="maxBatchSize"/>) the items waiting.
    /// </summary>
    /// <param name="maxBatchSize">The largest batch.</param>
    /// <param name="maxDelay">How long a partial batch waits, or <see cref="Timeout.InfiniteTimeSpan"/>.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage, whose items are the batches.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchSize"/> is zero or negative, or <paramref name="maxDelay"/> is not positive or infinite.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, IReadOnlyList<T>> Batch(int maxBatchSize, TimeSpan maxDelay, Action<PipelineStage>? configure = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        if (maxDelay <= TimeSpan.Zero && maxDelay != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDelay), maxDelay, "The delay must be positive, or Timeout.InfiniteTimeSpan.");
        }

        var stage = Settings("batch", configure);
        return Extend<IReadOnlyList<T>>(new BatchStageSpec<T>(stage, maxBatchSize, maxDelay));
    }

    /// <summary>Adds a stage that runs a side effect on each item (logging, counting) and passes the item on.</summary>
    /// <param name="action">The side effect.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The builder of the next stage.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="action"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public PipelineBuilder<TIn, T> Tap(Action<T> action, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        return Tap(StageFunctions.ToAsync(action), configure);
    }

    /// <inheritdoc cref="Tap(Action{T}, Action{PipelineStage})"/>
    public PipelineBuilder<TIn, T> Tap(Func<T, CancellationToken, ValueTask> action, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        var stage = Settings("tap", configure);
        return Extend<T>(new DelegateStageSpec<T, T>(stage, StageFunctions.Tap(action, stage.ResiliencePipeline)));
    }

    /// <summary>Ends the pipeline with a sink stage that consumes each item.</summary>
    /// <param name="action">The sink; its token is cancelled when the run is.</param>
    /// <param name="configure">Configures the stage.</param>
    /// <returns>The pipeline, ready to run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="action"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public Pipeline<TIn> ForEach(Func<T, CancellationToken, ValueTask> action, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        var stage = Settings("foreach", configure);
        return Terminate(new DelegateStageSpec<T, T>(stage, StageFunctions.ForEach(action, stage.ResiliencePipeline)));
    }

    /// <inheritdoc cref="ForEach(Func{T, CancellationToken, ValueTask}, Action{PipelineStage})"/>
    public Pipeline<TIn> ForEach(Action<T> action, Action<PipelineStage>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(action);
        return ForEach(StageFunctions.ToAsync(action), configure);
    }

    /// <summary>Ends the pipeline by writing each item into a channel, waiting for room in it (backpressure).</summary>
    /// <param name="writer">The channel's writer.</param>
    /// <param name="completeWriter">Whether to complete the writer when the run ends.</param>
    /// <returns>The pipeline, ready to run.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="writer"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public Pipeline<TIn> ToChannel(ChannelWriter<T> writer, bool completeWriter = true)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ThrowIfExtended();
        if (_plan.Count == 0)
        {
            // A pipeline of no stage: one pass-through stage carries the items into the channel.
            _plan.Add(new DelegateStageSpec<T, T>(Settings("select", null), static (item, _) => new ValueTask<StageResult<T>>(StageResult<T>.One(item))));
        }

        _plan[^1] = new ConnectedStageSpec(_plan[^1], stage => new WriterTarget<T>(stage, writer, completeWriter));
        return Build();
    }

    /// <summary>Ends the pipeline with an output the caller reads: each run's <see cref="PipelineRun{TOut}.Output"/>.</summary>
    /// <param name="capacity">How many outputs may wait to be read before the last stage waits.</param>
    /// <returns>The pipeline, ready to run.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is zero or negative.</exception>
    /// <exception cref="InvalidOperationException">This builder has already been extended or has built.</exception>
    public Pipeline<TIn, T> ToAsyncEnumerable(int capacity = 64)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        ThrowIfExtended();
        _outputCapacity = capacity;
        return (Pipeline<TIn, T>)Build();
    }

    /// <inheritdoc/>
    protected override Pipeline<TIn> Create(PipelineOptions options)
    {
        ThrowIfExtended();
        if (_plan.Count == 0)
        {
            throw new InvalidOperationException("A pipeline needs at least one stage: add Select, Where, Batch... before building it.");
        }

        var plan = _plan.ToArray();
        var copy = options.Clone();
        return _outputCapacity > 0 ? new Pipeline<TIn, T>(copy, plan, _outputCapacity) : new Pipeline<TIn>(copy, plan);
    }

    /// <summary>Adds a stage that runs <paramref name="spec"/>; used by the extension methods (<c>Unbatch</c>).</summary>
    internal PipelineBuilder<TIn, TOut> Extend<TOut>(StageSpec spec)
    {
        ThrowIfExtended();
        ThrowIfBuilt();
        _plan.Add(spec);
        _extended = true;
        return new PipelineBuilder<TIn, TOut>(Options, _plan);
    }

    /// <summary>Creates a stage's settings with its default name and runs the user's configuration on them.</summary>
    internal PipelineStage Settings(string kind, Action<PipelineStage>? configure)
    {
        var count = _plan.Count(spec => spec.Settings.Name.StartsWith(kind, StringComparison.Ordinal));
        var stage = new PipelineStage(count == 0 ? kind : kind + (count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        configure?.Invoke(stage);
        stage.Validate();
        if (_plan.Exists(spec => spec.Settings.Name == stage.Name))
        {
            throw new ArgumentException($"The pipeline already has a stage named '{stage.Name}': stage names must be unique.", nameof(configure));
        }

        return stage;
    }

    private Pipeline<TIn> Terminate(StageSpec spec)
    {
        ThrowIfExtended();
        ThrowIfBuilt();
        _plan.Add(spec);
        return Build();
    }

    private void ThrowIfExtended()
    {
        if (_extended)
        {
            throw new InvalidOperationException("This PipelineBuilder has already been extended by a stage: continue from the builder that stage returned.");
        }
    }
}
