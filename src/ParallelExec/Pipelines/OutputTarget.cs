using System.Threading.Channels;
using ParallelExec.Internal;

namespace ParallelExec.Pipelines;

/// <summary>
/// The output of a streaming run (<c>ToAsyncEnumerable</c>): a bounded channel the last stage writes into and the user
/// reads. A reader that falls behind makes the last stage wait, and so the whole pipeline.
/// </summary>
internal sealed class OutputTarget<T>(StageCore last, int capacity) : StageTarget<T>
{
    private readonly Channel<T> _channel = Channel.CreateBounded<T>(new BoundedChannelOptions(capacity) { SingleWriter = false, SingleReader = false });

    public ChannelReader<T> Reader => _channel.Reader;

    public override ValueTask WriteAsync(T item, CancellationToken cancellationToken)
    {
        if (_channel.Writer.TryWrite(item))
        {
            last.CountOutputFromTarget();
            return default;
        }

        return WriteSlowAsync(item, cancellationToken);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync(T item, CancellationToken cancellationToken)
    {
        // Not ChannelWriter.WriteAsync: a cancellation racing its registration could both write the item and throw
        // (see ChannelWrite), counting one item twice.
        if (!await ChannelWrite.WriteAsync(_channel.Writer, item, cancellationToken).ConfigureAwait(false))
        {
            throw new ChannelClosedException();
        }

        last.CountOutputFromTarget();
    }

    public override void Complete() => _channel.Writer.TryComplete();
}

/// <summary>The output of a user's channel (<c>ToChannel</c>): writes wait for room in the user's writer.</summary>
internal sealed class WriterTarget<T>(StageCore last, ChannelWriter<T> writer, bool completeWriter) : StageTarget<T>
{
    public override ValueTask WriteAsync(T item, CancellationToken cancellationToken)
    {
        if (writer.TryWrite(item))
        {
            last.CountOutputFromTarget();
            return default;
        }

        return WriteSlowAsync(item, cancellationToken);
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync(T item, CancellationToken cancellationToken)
    {
        await writer.WriteAsync(item, cancellationToken).ConfigureAwait(false);
        last.CountOutputFromTarget();
    }

    public override void Complete()
    {
        if (completeWriter)
        {
            writer.TryComplete();
        }
    }
}
