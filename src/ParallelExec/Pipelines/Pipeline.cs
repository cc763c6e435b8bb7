using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>
/// A built pipeline: a plan of stages that can run any number of times, each run over its own source. Build it with
/// <see cref="Exec.Pipeline{TIn}"/>; run it with <c>RunAsync</c> (awaits the whole run) or <c>Start</c> (returns the running
/// <see cref="PipelineRun"/>, a component you can complete, resize, observe and dispose).
/// </summary>
/// <typeparam name="TIn">The type of the source's items.</typeparam>
public class Pipeline<TIn>
{
    private readonly PipelineOptions _options;

    internal Pipeline(PipelineOptions options, StageSpec[] plan)
    {
        _options = options;
        Plan = plan;
    }

    /// <summary>Gets the pipeline's name (<see cref="ComponentOptions.Name"/>).</summary>
    public string Name => _options.Name;

    /// <summary>Gets the stages' names, in order.</summary>
    public IReadOnlyList<string> StageNames => Array.ConvertAll(Plan, spec => spec.Settings.Name);

    internal StageSpec[] Plan { get; }

    /// <summary>Starts a run over a sequence, read on the thread pool as fast as the first stage takes items.</summary>
    /// <param name="source">The items.</param>
    /// <param name="cancellationToken">Cancels the run: what is inside is reported dropped (<see cref="DropReason.Cancelled"/>).</param>
    /// <returns>The running pipeline; dispose it (or await its <see cref="PipelineRun.Result"/>).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is <see langword="null"/>.</exception>
    public PipelineRun Start(IEnumerable<TIn> source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var run = CreateRun();
        run.Start(source, cancellationToken);
        return run;
    }

    /// <inheritdoc cref="Start(IEnumerable{TIn}, CancellationToken)"/>
    public PipelineRun Start(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var run = CreateRun();
        run.Start(source, cancellationToken);
        return run;
    }

    /// <inheritdoc cref="Start(IEnumerable{TIn}, CancellationToken)"/>
    public PipelineRun Start(ChannelReader<TIn> source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var run = CreateRun();
        run.Start(source, cancellationToken);
        return run;
    }

    /// <summary>
    /// Starts a run whose source is a writer: each write enters the first stage (waiting for room), and completing the
    /// writer (or <see cref="PipelineRun.Complete"/>) completes the run's intake.
    /// </summary>
    /// <param name="input">The writer to write the items into.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The running pipeline.</returns>
    public PipelineRun Start(out ChannelWriter<TIn> input, CancellationToken cancellationToken = default)
    {
        var run = CreateRun();
        input = run.StartWithWriter<TIn>(cancellationToken);
        return run;
    }

    /// <summary>Runs the pipeline over a sequence and returns how every stage did.</summary>
    /// <param name="source">The items.</param>
    /// <param name="cancellationToken">Cancels the run; the result's <see cref="PipelineResult.Outcome"/> is then
    /// <see cref="PipelineOutcome.Cancelled"/> (nothing is thrown: the counts say where each item ended).</param>
    /// <returns>The result; call <see cref="PipelineResult.ThrowIfFailed"/> to turn a stop or a cancellation into an exception.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is <see langword="null"/>.</exception>
    public Task<PipelineResult> RunAsync(IEnumerable<TIn> source, CancellationToken cancellationToken = default) =>
        AwaitRunAsync(Start(source, cancellationToken));

    /// <inheritdoc cref="RunAsync(IEnumerable{TIn}, CancellationToken)"/>
    public Task<PipelineResult> RunAsync(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken = default) =>
        AwaitRunAsync(Start(source, cancellationToken));

    /// <inheritdoc cref="RunAsync(IEnumerable{TIn}, CancellationToken)"/>
    public Task<PipelineResult> RunAsync(ChannelReader<TIn> source, CancellationToken cancellationToken = default) =>
        AwaitRunAsync(Start(source, cancellationToken));

    private protected virtual PipelineRun CreateRun() => new PlainPipelineRun(_options.Clone(), Plan);

    private protected virtual Task DrainOutputAsync(PipelineRun run) => Task.CompletedTask;

    private async Task<PipelineResult> AwaitRunAsync(PipelineRun run)
    {
        await using (run.ConfigureAwait(false))
        {
            await DrainOutputAsync(run).ConfigureAwait(false);
            return await run.Result.ConfigureAwait(false);
        }
    }

    private sealed class PlainPipelineRun(PipelineOptions options, IReadOnlyList<StageSpec> plan) : PipelineRun(options, plan);
}

/// <summary>
/// A built pipeline whose outputs the caller reads (<see cref="PipelineBuilder{TIn, T}.ToAsyncEnumerable"/>): each run's
/// <see cref="PipelineRun{TOut}.Output"/> is a bounded channel, so a slow reader slows the pipeline.
/// </summary>
/// <typeparam name="TIn">The type of the source's items.</typeparam>
/// <typeparam name="TOut">The type of the outputs.</typeparam>
public sealed class Pipeline<TIn, TOut> : Pipeline<TIn>
{
    private readonly PipelineOptions _options;
    private readonly int _outputCapacity;

    internal Pipeline(PipelineOptions options, StageSpec[] plan, int outputCapacity)
        : base(options, plan)
    {
        _options = options;
        _outputCapacity = outputCapacity;
    }

    /// <summary>Starts a run over a sequence; read its outputs from <see cref="PipelineRun{TOut}.Output"/> or <see cref="PipelineRun{TOut}.ReadAllAsync"/>.</summary>
    /// <param name="source">The items.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The running pipeline.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is <see langword="null"/>.</exception>
    public new PipelineRun<TOut> Start(IEnumerable<TIn> source, CancellationToken cancellationToken = default) => (PipelineRun<TOut>)base.Start(source, cancellationToken);

    /// <inheritdoc cref="Start(IEnumerable{TIn}, CancellationToken)"/>
    public new PipelineRun<TOut> Start(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken = default) => (PipelineRun<TOut>)base.Start(source, cancellationToken);

    /// <inheritdoc cref="Start(IEnumerable{TIn}, CancellationToken)"/>
    public new PipelineRun<TOut> Start(ChannelReader<TIn> source, CancellationToken cancellationToken = default) => (PipelineRun<TOut>)base.Start(source, cancellationToken);

    /// <summary>Starts a run whose source is a writer; see <see cref="Pipeline{TIn}.Start(out ChannelWriter{TIn}, CancellationToken)"/>.</summary>
    /// <param name="input">The writer to write the items into.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The running pipeline.</returns>
    public new PipelineRun<TOut> Start(out ChannelWriter<TIn> input, CancellationToken cancellationToken = default) => (PipelineRun<TOut>)base.Start(out input, cancellationToken);

    /// <summary>Runs over a sequence and yields the outputs; see <see cref="PipelineRun{TOut}.ReadAllAsync"/>.</summary>
    /// <param name="source">The items.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The outputs.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> is <see langword="null"/>.</exception>
    public IAsyncEnumerable<TOut> ReadAllAsync(IEnumerable<TIn> source, CancellationToken cancellationToken = default) =>
        Start(source, cancellationToken).ReadAllAsync(cancellationToken);

    /// <inheritdoc cref="ReadAllAsync(IEnumerable{TIn}, CancellationToken)"/>
    public IAsyncEnumerable<TOut> ReadAllAsync(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken = default) =>
        Start(source, cancellationToken).ReadAllAsync(cancellationToken);

    private protected override PipelineRun CreateRun() => new PipelineRun<TOut>(_options.Clone(), Plan, _outputCapacity);

    /// <summary><c>RunAsync</c> on a streaming pipeline reads and discards the outputs, so the run is not held up by them.</summary>
    private protected override async Task DrainOutputAsync(PipelineRun run)
    {
        var output = ((PipelineRun<TOut>)run).Output;
        while (await output.WaitToReadAsync().ConfigureAwait(false))
        {
            while (output.TryRead(out _))
            {
            }
        }
    }
}
