using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>
/// A stage's input queue: a bounded <see cref="Channel{T}"/> (the stage's <see cref="PipelineStage.QueueCapacity"/>),
/// whose full mode is the stage's. A write counts the item as entered at the owning stage.
/// </summary>
/// <remarks>
/// Why a channel and not the worker pool's queue: a stage's items are plain values read by a few long-lived workers,
/// and a bounded channel is exactly a queue whose writers wait for room, which is what carries backpressure from one
/// stage to the one before it. It allocates nothing per item in steady state, and its readers can grow and shrink
/// (the stage's workers) while it runs.
/// </remarks>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class StageInput<T> : StageTarget<T>
{
    private readonly Channel<T> _channel;
    private readonly StageCore _owner;
    private readonly bool _reject;

    public StageInput(StageCore owner, int capacity, QueueFullMode fullMode)
    {
        _owner = owner;
        _reject = fullMode == QueueFullMode.Reject;
        var options = new BoundedChannelOptions(capacity)
        {
            FullMode = fullMode switch
            {
                QueueFullMode.DropOldest => BoundedChannelFullMode.DropOldest,
                QueueFullMode.DropNewest => BoundedChannelFullMode.DropNewest,
                _ => BoundedChannelFullMode.Wait,
            },
            SingleReader = false,
            SingleWriter = false,
        };
        _channel = fullMode is QueueFullMode.DropOldest or QueueFullMode.DropNewest
            ? Channel.CreateBounded<T>(options, item => owner.Evicted(item, fullMode == QueueFullMode.DropOldest ? DropReason.DroppedOldest : DropReason.DroppedNewest))
            : Channel.CreateBounded<T>(options);
    }

    public ChannelReader<T> Reader => _channel.Reader;

    public int Count => _channel.Reader.CanCount ? _channel.Reader.Count : 0;

    /// <summary>Writes without waiting; returns <see langword="false"/> only when the queue is full in Wait mode.</summary>
    public bool TryWrite(T item)
    {
        _owner.CountEntered();
        if (_channel.Writer.TryWrite(item))
        {
            return true;
        }

        if (_reject)
        {
            _owner.Refused(item);
            return true;
        }

        _owner.UncountEntered();
        return false;
    }

    public override ValueTask WriteAsync(T item, CancellationToken cancellationToken) =>
        TryWrite(item) ? default : WriteSlowAsync(item, cancellationToken);

    public ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken) => _channel.Writer.WaitToWriteAsync(cancellationToken);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync(T item, CancellationToken cancellationToken)
    {
        while (await _channel.Writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
        {
            if (TryWrite(item))
            {
                return;
            }
        }

        // The queue was completed under the writer: only a cancelled run completes a stage early.
        cancellationToken.ThrowIfCancellationRequested();
        throw new OperationCanceledException("The pipeline stage stopped taking items.");
    }

    public override void Complete() => _channel.Writer.TryComplete();
}
