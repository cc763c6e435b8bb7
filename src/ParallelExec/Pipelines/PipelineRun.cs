using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Pipelines;

/// <summary>
/// A running pipeline: a component (<see cref="IExecComponent"/>) whose <see cref="Complete"/> stops reading the source
/// (or closes the input writer), whose <see cref="Completion"/> ends when every item read has ended at some stage, and
/// whose <see cref="Result"/> says how each stage did.
/// </summary>
/// <remarks>
/// <para><b>Flow.</b> Completing the source completes the first stage, which, once its last item has ended, completes
/// the second, and so on. Each stage's input is bounded, and a full one makes the stage before wait: a slow last stage
/// slows the source, and the pipeline holds at most the sum of its stages' capacities and degrees of parallelism.</para>
/// <para><b>Cancellation.</b> The caller's token, a <see cref="PipelineFailurePolicy.Stop"/> failure, or a passed drain
/// timeout cancels the run: the source is no longer read, the work in flight gets a cancelled token, and every item
/// still inside is reported dropped at its stage (<see cref="DropReason.Cancelled"/>, or
/// <see cref="DropReason.DrainTimeout"/>).</para>
/// <para><b>Telemetry.</b> Instruments <c>parallelexec.pipeline.*</c>, tagged with the pipeline's name and
/// <see cref="TelemetryTagNames.Stage"/>; a <c>parallelexec.pipeline.run</c> span for the run and, when someone listens,
/// a <c>parallelexec.pipeline.item</c> span per item per stage.</para>
/// </remarks>
public partial class PipelineRun : IExecComponent, IInstrumentedComponent
{
    private readonly Lifecycle _lifecycle = new();
    private readonly object _lock = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly TaskCompletionSource<PipelineResult> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly StageCore[] _stages;
    private CancellationTokenRegistration _callerRegistration;
    private Exception? _failure;
    private volatile bool _intakeClosed;
    private volatile int _cancelReason = (int)DropReason.Cancelled;
    private PipelineOutcome _outcome = PipelineOutcome.Completed;

    private protected PipelineRun(PipelineOptions options, IReadOnlyList<StageSpec> plan)
    {
        Options = options;
        Name = options.Name;
        TimeProvider = options.TimeProvider;
        Token = _cts.Token;
        Instruments = ComponentInstruments.Get("pipeline", options.MeterFactory);
        NameTag = new KeyValuePair<string, object?>(TelemetryTagNames.Name, Name);
        _stages = new StageCore[plan.Count];
        for (var i = 0; i < plan.Count; i++)
        {
            _stages[i] = plan[i].Create(this);
        }

        for (var i = 0; i + 1 < plan.Count; i++)
        {
            plan[i].Connect(_stages[i], plan[i + 1].InputOf(_stages[i + 1]));
            _stages[i].Next = _stages[i + 1];
        }

        FirstInput = plan[0].InputOf(_stages[0]);
        Instruments.Live.Add(this);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public Task Completion => _lifecycle.Completion;

    /// <summary>Gets the run's result: completes when <see cref="Completion"/> does, and never faults.</summary>
    public Task<PipelineResult> Result => _result.Task;

    /// <summary>Gets the stages' names, in order.</summary>
    public IReadOnlyList<string> StageNames => Array.ConvertAll(_stages, stage => stage.Name);

    /// <inheritdoc/>
    public KeyValuePair<string, object?> NameTag { get; }

    internal PipelineOptions Options { get; }

    internal TimeProvider TimeProvider { get; }

    internal ComponentInstruments Instruments { get; }

    internal CancellationToken Token { get; }

    internal ActivityContext SpanContext { get; private set; }

    internal object FirstInput { get; }

    internal StageCore FirstStage => _stages[0];

    internal StageCore LastStage => _stages[^1];

    internal bool IsCancelled => Token.IsCancellationRequested;

    internal bool IntakeClosed => _intakeClosed;

    internal DropReason CancelReason => (DropReason)_cancelReason;

    /// <summary>
    /// Changes how many items a stage works on at once while it runs: new workers start at once; when shrinking, busy
    /// workers retire after their current item.
    /// </summary>
    /// <param name="stage">The stage's name.</param>
    /// <param name="maxDegreeOfParallelism">The new bound.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxDegreeOfParallelism"/> is zero or negative.</exception>
    /// <exception cref="KeyNotFoundException">No stage has that name.</exception>
    /// <exception cref="NotSupportedException">The stage is a <c>Batch</c> stage (its batches in flight are fixed).</exception>
    /// <exception cref="InvalidOperationException">The stage keeps input order with one worker (no reorder window) and would grow.</exception>
    public void SetMaxDegreeOfParallelism(string stage, int maxDegreeOfParallelism)
    {
        ArgumentNullException.ThrowIfNull(stage);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDegreeOfParallelism);
        var found = Array.Find(_stages, s => s.Name == stage) ?? throw new KeyNotFoundException($"The pipeline '{Name}' has no stage named '{stage}'.");
        found.SetMaxDegreeOfParallelism(maxDegreeOfParallelism);
    }

    /// <summary>Stops intake: the source is no longer read (an input writer is completed); what was read still flows through. Idempotent.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _lifecycle.TryStopIntake();
        }

        _intakeClosed = true;
        OnIntakeClosed();
    }

    /// <summary>Returns a snapshot of every stage's counts.</summary>
    /// <returns>The snapshot.</returns>
    public PipelineStatistics GetStatistics() => new(Name, Array.ConvertAll(_stages, stage => stage.Snapshot()));

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger() => GetStatistics().Ledger;

    /// <summary>
    /// Completes, waits for the items inside to end within <see cref="ComponentOptions.DrainTimeout"/>, then cancels the
    /// rest (each reported dropped with <see cref="DropReason.DrainTimeout"/>). Idempotent.
    /// </summary>
    /// <returns>A task that ends when the run has ended.</returns>
    public ValueTask DisposeAsync()
    {
        Task disposal;
        TaskCompletionSource? first;
        lock (_lock)
        {
            disposal = _lifecycle.BeginDisposal(out first);
        }

        if (first is not null)
        {
            _ = DisposeCoreAsync(first);
        }

        return new ValueTask(disposal);
    }

    private async Task DisposeCoreAsync(TaskCompletionSource done)
    {
        _intakeClosed = true;
        OnIntakeClosed();
        await Lifecycle.DrainAsync(Completion, Options.DrainTimeout, TimeProvider, () => Cancel(DropReason.DrainTimeout, PipelineOutcome.Cancelled)).ConfigureAwait(false);
        Instruments.Live.Remove(this);
        _callerRegistration.Dispose();

        // The source is not disposed: a late Cancel (a reader leaving ReadAllAsync after the end) may still read it, and
        // it holds no timer.
        done.TrySetResult();
    }

    /// <summary>Called by a stage for every failed item: under <see cref="PipelineFailurePolicy.Stop"/>, the first one stops the run.</summary>
    internal void OnItemFailed(Exception exception)
    {
        if (Options.FailurePolicy == PipelineFailurePolicy.Stop && Interlocked.CompareExchange(ref _failure, exception, null) is null)
        {
            Cancel(DropReason.Cancelled, PipelineOutcome.Stopped);
        }
    }

    /// <summary>The source threw while it was read: the run stops taking items; what was read still flows through.</summary>
    internal void OnSourceFailed(Exception exception)
    {
        if (Interlocked.CompareExchange(ref _failure, exception, null) is null)
        {
            lock (_lock)
            {
                _outcome = PipelineOutcome.Stopped;
            }
        }
    }

    internal void Cancel(DropReason reason, PipelineOutcome outcome)
    {
        lock (_lock)
        {
            if (_cts.IsCancellationRequested || _outcome != PipelineOutcome.Completed)
            {
                return;
            }

            _outcome = outcome;
            _cancelReason = (int)reason;
        }

        // Not inline: cancelling runs the registrations of every waiting worker, and the caller may be one of them.
        _ = Task.Run(_cts.Cancel);
    }

    internal void RegisterCaller(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _callerRegistration = cancellationToken.UnsafeRegister(
                static state => ((PipelineRun)state!).Cancel(DropReason.Cancelled, PipelineOutcome.Cancelled), this);
        }
    }

    /// <summary>Runs every stage, the source feeding the first, and settles the result once the last stage has ended.</summary>
    internal async Task RunAsync(Task source)
    {
        using var span = Telemetry.StartSpan("parallelexec.pipeline.run", Name);
        SpanContext = span?.Context ?? default;
        var upstream = source;
        var stages = new Task[_stages.Length];
        for (var i = 0; i < _stages.Length; i++)
        {
            stages[i] = _stages[i].RunAsync(upstream);
            upstream = stages[i];
        }

        await Task.WhenAll(stages).ConfigureAwait(false);
        PipelineOutcome outcome;
        lock (_lock)
        {
            _lifecycle.TryStopIntake();
            outcome = _outcome;
        }

        var result = new PipelineResult(Name, outcome, _failure, GetStatistics().Stages);
        if (span is not null && outcome != PipelineOutcome.Completed)
        {
            Telemetry.RecordFailure(span, _failure ?? new OperationCanceledException($"The pipeline '{Name}' was cancelled."));
        }

        lock (_lock)
        {
            _lifecycle.SetCompleted();
        }

        _result.TrySetResult(result);
    }

    /// <summary>Closes an input writer, if the run has one.</summary>
    private void OnIntakeClosed() => IntakeClosedCallback?.Invoke();

    /// <summary>Gets or sets what closes the run's input writer, when the user writes the source.</summary>
    internal Action? IntakeClosedCallback { get; set; }
}
