using ParallelExec.Batching;

namespace ParallelExec.Pipelines;

/// <summary>
/// The <c>Batch</c> stage: a <see cref="BatchProcessor{TItem, TResult}"/> whose handler passes each batch on to the next
/// stage. The stage before writes straight into the processor (<see cref="BatchProcessor{TItem, TResult}.PostAsync"/>
/// waits for room, which is the backpressure), so the processor's queue is this stage's queue; the processor flushes by
/// size or by time on the run's clock, and its <c>MaxDegreeOfParallelism</c> bounds the batches in flight.
/// </summary>
/// <remarks>A batch is a fresh array, owned by the stages after this one (the processor's view of the items is valid only
/// while its handler runs).</remarks>
internal sealed class BatchStage<T> : StageCore
{
    private readonly BatchProcessor<BatchEntry<T>, bool> _processor;

    // The handler's results: one per item, all alike; reused while the batch size does not change.
    private bool[] _results = [];

    public BatchStage(PipelineRun run, PipelineStage settings, int maxBatchSize, TimeSpan maxDelay)
        : base(run, settings)
    {
        var options = new BatchProcessorOptions<BatchEntry<T>>
        {
            Name = run.Name + "." + settings.Name,
            MaxBatchSize = maxBatchSize,
            MaxDelay = maxDelay,
            MaxDegreeOfParallelism = settings.MaxDegreeOfParallelism,
            QueueCapacity = Math.Max(settings.QueueCapacity, maxBatchSize),
            FullMode = settings.FullMode,
            TimeProvider = run.TimeProvider,
            MeterFactory = run.Options.MeterFactory,
            ResiliencePipeline = settings.ResiliencePipeline,
            OnError = failed => ItemFailed(Unwrap(failed.Item), failed.Exception, null),
            OnDropped = OnProcessorDropped,
        };
        _processor = new BatchProcessor<BatchEntry<T>, bool>(HandleAsync, options);
        Input = new ProcessorTarget(this);
    }

    /// <summary>Gets where the stage before writes: into the processor.</summary>
    public StageTarget<T> Input { get; }

    public StageTarget<IReadOnlyList<T>> Target { get; set; } = NullTarget<IReadOnlyList<T>>.Instance;

    protected override int Queued => (int)Math.Min(int.MaxValue, _processor.GetStatistics().Ledger.Queued);

    public override async Task RunAsync(Task upstream)
    {
        await upstream.ConfigureAwait(false);

        // Whatever is still in the processor is flushed; in a cancelled run its handler's write fails at once and each
        // item is reported cancelled through OnError.
        _processor.Complete();
        await _processor.Completion.ConfigureAwait(false);
        await _processor.DisposeAsync().ConfigureAwait(false);
        Target.Complete();
    }

    protected override void StartWorker()
    {
        // The processor runs the batches; this stage has no workers of its own.
    }

    public override void SetMaxDegreeOfParallelism(int maxDegreeOfParallelism) =>
        throw new NotSupportedException($"The batch stage '{Name}' runs on a BatchProcessor, whose number of batches in flight is fixed when the run starts.");

    private async ValueTask<IReadOnlyList<bool>> HandleAsync(IReadOnlyList<BatchEntry<T>> items, CancellationToken cancellationToken)
    {
        var count = items.Count;
        var batch = new T[count];
        for (var i = 0; i < count; i++)
        {
            batch[i] = items[i].Value;
        }

        await Target.WriteAsync(batch, Run.Token).ConfigureAwait(false);
        Interlocked.Add(ref Left, count);
        var results = _results;
        if (results.Length != count)
        {
            results = new bool[count];
            _results = results;
        }

        return results;
    }

    private void OnProcessorDropped(DroppedItem dropped)
    {
        var item = Unwrap(dropped.Item);
        switch (dropped.Reason)
        {
            case DropReason.Rejected:
                Refused(item);
                break;
            case DropReason.Cancelled:
                ItemCancelled(item);
                break;
            default:
                Evicted(item, dropped.Reason);
                break;
        }
    }

    private static object? Unwrap(object? item) => item is BatchEntry<T> entry ? entry.Value : item;

    private sealed class ProcessorTarget(BatchStage<T> stage) : StageTarget<T>
    {
        public override ValueTask WriteAsync(T item, CancellationToken cancellationToken)
        {
            stage.CountEntered();
            var entry = new BatchEntry<T>(item);
            var posted = stage._processor.TryPost(entry);
            return posted == PostResult.QueueFull ? WaitAsync(entry, cancellationToken) : default;
        }

        public override void Complete()
        {
            // RunAsync completes the processor once the stage before has ended.
        }

        [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
        private async ValueTask WaitAsync(BatchEntry<T> entry, CancellationToken cancellationToken)
        {
            try
            {
                await stage._processor.PostAsync(entry, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Not taken: the stage before counts it dropped, as for any cancelled write.
                stage.UncountEntered();
                throw;
            }
        }
    }
}

/// <summary>An item in a batch stage's processor: a struct, so the processor's non-null item rule holds for any item type.</summary>
internal readonly record struct BatchEntry<T>(T Value);
