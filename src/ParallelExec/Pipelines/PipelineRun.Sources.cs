using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>The ways items come in: a pump task per kind of source, or a writer the user writes into.</summary>
public partial class PipelineRun
{
    /// <summary>Starts the run over a sequence: a pump on the thread pool writes each item into the first stage.</summary>
    internal void Start<TIn>(IEnumerable<TIn> source, CancellationToken cancellationToken) =>
        StartPump<TIn>(cancellationToken, async (target, token) =>
        {
            foreach (var item in source)
            {
                if (IntakeClosed || token.IsCancellationRequested)
                {
                    break;
                }

                var write = target.WriteAsync(item, token);
                if (!write.IsCompletedSuccessfully)
                {
                    await WriteSlowAsync(write, item).ConfigureAwait(false);
                }
            }
        });

    internal void Start<TIn>(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken) =>
        StartPump<TIn>(cancellationToken, async (target, token) =>
        {
            await foreach (var item in source.WithCancellation(token).ConfigureAwait(false))
            {
                if (IntakeClosed)
                {
                    break;
                }

                var write = target.WriteAsync(item, token);
                if (!write.IsCompletedSuccessfully)
                {
                    await WriteSlowAsync(write, item).ConfigureAwait(false);
                }
            }
        });

    internal void Start<TIn>(ChannelReader<TIn> source, CancellationToken cancellationToken) =>
        StartPump<TIn>(cancellationToken, async (target, token) =>
        {
            while (!IntakeClosed && await source.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (!IntakeClosed && source.TryRead(out var item))
                {
                    var write = target.WriteAsync(item, token);
                    if (!write.IsCompletedSuccessfully)
                    {
                        await WriteSlowAsync(write, item).ConfigureAwait(false);
                    }
                }
            }
        });

    /// <summary>Starts the run with a writer as its source; the first stage ends when the writer is completed.</summary>
    internal ChannelWriter<TIn> StartWithWriter<TIn>(CancellationToken cancellationToken)
    {
        var writer = new PipelineInputWriter<TIn>(this, (StageTarget<TIn>)FirstInput);
        IntakeClosedCallback = () => writer.TryComplete();
        RegisterCaller(cancellationToken);
        Token.UnsafeRegister(static state => ((PipelineInputWriter<TIn>)state!).TryComplete(), writer);
        _ = RunAsync(writer.Closed);
        return writer;
    }

    private void StartPump<TIn>(CancellationToken cancellationToken, Func<StageTarget<TIn>, CancellationToken, Task> pump)
    {
        RegisterCaller(cancellationToken);
        _ = RunAsync(Task.Run(() => PumpAsync(pump)));
    }

    /// <summary>
    /// Runs one source's loop into the first stage and completes that stage however the loop ends: the run cancelled
    /// (while the source produced an item or while it waited for room), or the source failed (an enumerator that threw,
    /// a channel completed with an error), which goes to the run's failure policy.
    /// </summary>
    private async Task PumpAsync<TIn>(Func<StageTarget<TIn>, CancellationToken, Task> pump)
    {
        var target = (StageTarget<TIn>)FirstInput;
        var token = Token;
        try
        {
            await pump(target, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled: what was in flight is counted by the stages.
        }
        catch (Exception exception)
        {
            OnSourceFailed(exception);
        }
        finally
        {
            target.Complete();
        }
    }

    /// <summary>Waits for room in the first stage; an item read from the source but cancelled on the way in counts dropped there.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteSlowAsync<TIn>(ValueTask write, TIn item)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            FirstStage.CountEntered();
            FirstStage.ItemCancelled(item);
            throw;
        }
    }
}
