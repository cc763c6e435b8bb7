using System.Threading.Channels;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// One item of a <see cref="WorkerPool.ProcessAsync{TSource, TResult}(IAsyncEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>
/// run. Whatever its ending (result, failure, cancellation, drop), it reports itself to the run's completion channel, so
/// the run can account for every item it started.
/// </summary>
internal sealed class SequenceWorkItem<TSource, TResult> : WorkItem
{
    private readonly Func<TSource, CancellationToken, ValueTask<TResult>> _body;
    private readonly TSource _source;
    private readonly ChannelWriter<SequenceWorkItem<TSource, TResult>> _completions;

    internal SequenceWorkItem(
        WorkerPool pool, long index, TSource source, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        ChannelWriter<SequenceWorkItem<TSource, TResult>> completions)
    {
        Pool = pool;
        Index = index;
        _source = source;
        _body = body;
        _completions = completions;
    }

    internal long Index { get; }

    internal TResult Result { get; private set; } = default!;

    internal override Delegate Work => _body;

    internal override bool IsAwaited => true;

    protected override ValueTask InvokeAsync(CancellationToken token)
    {
        var pending = _body(_source, token);
        if (pending.IsCompletedSuccessfully)
        {
            Result = pending.Result;
            return default;
        }

        return AwaitResultAsync(pending);
    }

    private async ValueTask AwaitResultAsync(ValueTask<TResult> pending) => Result = await pending.ConfigureAwait(false);

    internal override void Complete()
    {
        if (Outcome == ItemOutcome.Succeeded)
        {
            Error = null;
        }

        _completions.TryWrite(this);
    }

    internal override void CompleteWithoutRunning(Exception exception)
    {
        Outcome = exception is OperationCanceledException ? ItemOutcome.Cancelled : ItemOutcome.Failed;
        Error = exception;
        _completions.TryWrite(this);
    }
}
