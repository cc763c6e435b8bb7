using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>
/// The writer a pipeline started without a source hands back: writing into it enters the first stage (waiting for room
/// in <see cref="QueueFullMode.Wait"/> mode), and completing it completes the pipeline's intake.
/// </summary>
internal sealed class PipelineInputWriter<TIn>(PipelineRun run, StageTarget<TIn> target) : ChannelWriter<TIn>
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _completed;
    private int _writing;

    /// <summary>Gets a task that ends when the writer is completed and no write is still on its way in.</summary>
    public Task Closed => _closed.Task;

    public override bool TryComplete(Exception? error = null)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        if (error is not null)
        {
            run.OnSourceFailed(error);
        }

        if (Volatile.Read(ref _writing) == 0)
        {
            Close();
        }

        return true;
    }

    public override bool TryWrite(TIn item)
    {
        if (!Enter())
        {
            return false;
        }

        try
        {
            if (target is StageInput<TIn> input)
            {
                return input.TryWrite(item);
            }

            var write = target.WriteAsync(item, run.Token);
            if (write.IsCompleted)
            {
                write.GetAwaiter().GetResult();
                return true;
            }

            // A batch stage without room: the item waits in the processor's waiting list (bounded by the writers).
            _ = write.AsTask();
            return true;
        }
        finally
        {
            Leave();
        }
    }

    public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _completed) != 0 || run.IsCancelled)
        {
            return new ValueTask<bool>(false);
        }

        return target is StageInput<TIn> input ? input.WaitToWriteAsync(cancellationToken) : new ValueTask<bool>(true);
    }

    public override async ValueTask WriteAsync(TIn item, CancellationToken cancellationToken = default)
    {
        if (!Enter())
        {
            throw new ChannelClosedException($"The input of the pipeline '{run.Name}' was completed: it accepts no more items.");
        }

        try
        {
            using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, run.Token) : null;
            await target.WriteAsync(item, linked?.Token ?? run.Token).ConfigureAwait(false);
        }
        finally
        {
            Leave();
        }
    }

    private bool Enter()
    {
        Interlocked.Increment(ref _writing);
        if (Volatile.Read(ref _completed) == 0 && !run.IsCancelled)
        {
            return true;
        }

        Leave();
        return false;
    }

    private void Leave()
    {
        if (Interlocked.Decrement(ref _writing) == 0 && Volatile.Read(ref _completed) != 0)
        {
            Close();
        }
    }

    private void Close()
    {
        if (_closed.TrySetResult())
        {
            target.Complete();
        }
    }
}
