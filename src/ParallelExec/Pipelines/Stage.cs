using System.Diagnostics;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Pipelines;

/// <summary>
/// A stage that runs work per item on a few long-lived workers reading its bounded input queue, and writes each item's
/// outputs into its target (the next stage's queue): unordered, each as soon as it is ready; ordered, through a
/// bounded reorder window (<see cref="Stage{TIn, TOut}.OrderedWorkerAsync"/>).
/// </summary>
/// <remarks>
/// Why workers over a channel and not the worker pool: a pool item is a delegate handed over per submission, and a
/// stage's work is one function applied to a stream; a worker that reads the queue and calls the function directly
/// pays no hand-off per item, and waiting on the next stage's room is simply the worker's await.
/// </remarks>
/// <typeparam name="TIn">The item type the stage reads.</typeparam>
/// <typeparam name="TOut">The output type it writes.</typeparam>
internal abstract partial class Stage<TIn, TOut> : StageCore
{
    private readonly bool _ordered;
    private readonly bool _orderedByOneWorker;

    protected Stage(PipelineRun run, PipelineStage settings)
        : base(run, settings)
    {
        Input = new StageInput<TIn>(this, settings.QueueCapacity, settings.FullMode);

        // One worker keeps input order by itself: an ordered stage of one worker needs no reorder window (and so
        // cannot be grown while it runs; see SetMaxDegreeOfParallelism).
        _ordered = settings.ResultOrder == ResultOrder.Input && settings.MaxDegreeOfParallelism > 1;
        _orderedByOneWorker = settings.ResultOrder == ResultOrder.Input && !_ordered;
        if (_ordered)
        {
            InitializeWindow(settings.QueueCapacity);
        }
    }

    public StageInput<TIn> Input { get; }

    public StageTarget<TOut> Target { get; set; } = NullTarget<TOut>.Instance;

    protected override int Queued => Input.Count;

    /// <summary>The stage's work on one item.</summary>
    protected abstract ValueTask<StageResult<TOut>> ProcessAsync(TIn item, CancellationToken cancellationToken);

    public override async Task RunAsync(Task upstream)
    {
        StartWorkers();
        await WorkersDone.ConfigureAwait(false);
        if (Run.IsCancelled)
        {
            // The workers left early: wait until nothing more is written in, then drop what is still queued.
            await upstream.ConfigureAwait(false);
            while (Input.Reader.TryRead(out var item))
            {
                ItemCancelled(item);
            }

            if (_ordered)
            {
                DropUnemitted();
            }
        }

        Target.Complete();
        DisposeWindow();
    }

    public override void SetMaxDegreeOfParallelism(int maxDegreeOfParallelism)
    {
        if (_orderedByOneWorker && maxDegreeOfParallelism > 1)
        {
            throw new InvalidOperationException(
                $"The stage '{Name}' keeps input order with one worker, without a reorder window: to resize it while it runs, give it a MaxDegreeOfParallelism above 1 (or ResultOrder.Completion) when building the pipeline.");
        }

        base.SetMaxDegreeOfParallelism(maxDegreeOfParallelism);
    }

    protected override void StartWorker() => _ = _ordered ? OrderedWorkerAsync() : WorkerAsync();

    private async Task WorkerAsync()
    {
        var reader = Input.Reader;
        var token = Run.Token;
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    var span = StartItemSpan();
                    var started = StartTiming();
                    StageResult<TOut> result;
                    try
                    {
                        var pending = ProcessAsync(item, token);
                        result = pending.IsCompletedSuccessfully ? pending.Result : await pending.ConfigureAwait(false);
                    }
                    catch (Exception exception)
                    {
                        EndFailed(item, exception, span, started);
                        continue;
                    }

                    if (result.Kind == StageResultKind.One)
                    {
                        // The common case inline: one output into the next stage's queue, usually without waiting.
                        try
                        {
                            var write = Target.WriteAsync(result.Value, token);
                            if (!write.IsCompletedSuccessfully)
                            {
                                await write.ConfigureAwait(false);
                            }

                            CountLeft();
                        }
                        catch (OperationCanceledException)
                        {
                            ItemCancelled(item);
                        }
                    }
                    else
                    {
                        await EmitAsync(item, result, token).ConfigureAwait(false);
                    }

                    EndSpan(span, started);
                    if (OverTarget && TryRetire())
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled: RunAsync drops what is left in the queue.
        }

        ExitWorker();
    }

    /// <summary>Passes one item's outputs on and counts how it ended; never throws.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask EmitAsync(TIn item, StageResult<TOut> result, CancellationToken token)
    {
        try
        {
            switch (result.Kind)
            {
                case StageResultKind.One:
                    await Target.WriteAsync(result.Value, token).ConfigureAwait(false);
                    CountLeft();
                    break;
                case StageResultKind.Many:
                    foreach (var output in result.Many)
                    {
                        await Target.WriteAsync(output, token).ConfigureAwait(false);
                    }

                    CountLeft();
                    break;
                case StageResultKind.ManyAsync:
                    await foreach (var output in result.ManyAsync.WithCancellation(token).ConfigureAwait(false))
                    {
                        await Target.WriteAsync(output, token).ConfigureAwait(false);
                    }

                    CountLeft();
                    break;
                case StageResultKind.Filtered:
                    CountFiltered();
                    break;
                default:
                    CountLeft();
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            ItemCancelled(item);
        }
        catch (Exception exception)
        {
            // A SelectMany's sequence (or asynchronous sequence) threw while it was enumerated.
            ItemFailed(item, exception, null);
        }
    }

    private void EndFailed(TIn item, Exception exception, Activity? span, long started)
    {
        ItemFailed(item, exception, span);
        RecordRun(started, exception is OperationCanceledException ? Telemetry.Cancelled : Telemetry.Failed);
        span?.Dispose();
    }

    private void EndSpan(Activity? span, long started)
    {
        RecordRun(started, Telemetry.Succeeded);
        span?.Dispose();
    }
}
