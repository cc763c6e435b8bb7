using System.Threading.Channels;

namespace ParallelExec.Pipelines;

/// <summary>The ways items come in: a pump task per kind of source, or a writer the user writes into.</summary>
public partial class PipelineRun
{
    /// <summary>Starts the run over a sequence: a pump on the thread pool writes each item into the first stage.</summary>
    internal void Start<TIn>(IEnumerable<TIn> source, CancellationToken cancellationToken)
    {
        RegisterCaller(cancellationToken);
        _ = RunAsync(Task.Run(() => PumpAsync(source)));
    }

    internal void Start<TIn>(IAsyncEnumerable<TIn> source, CancellationToken cancellationToken)
    {
        RegisterCaller(cancellationToken);
        _ = RunAsync(Task.Run(() => PumpAsync(source)));
    }

    internal void Start<TIn>(ChannelReader<TIn> source, CancellationToken cancellationToken)
    {
        RegisterCaller(cancellationToken);
        _ = RunAsync(Task.Run(() => PumpAsync(source)));
    }

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

    private async Task PumpAsync<TIn>(IEnumerable<TIn> source)
    {
        var target = (StageTarget<TIn>)FirstInput;
        var token = Token;
        try
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
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            OnSourceFailed(exception);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled while the source produced an item.
        }
        finally
        {
            target.Complete();
        }
    }

    private async Task PumpAsync<TIn>(IAsyncEnumerable<TIn> source)
    {
        var target = (StageTarget<TIn>)FirstInput;
        var token = Token;
        try
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
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled while the source produced an item.
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

    private async Task PumpAsync<TIn>(ChannelReader<TIn> source)
    {
        var target = (StageTarget<TIn>)FirstInput;
        var token = Token;
        try
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
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The run was cancelled while waiting for the source.
        }
        catch (Exception exception)
        {
            // A channel completed with an error: its writer's failure.
            OnSourceFailed(exception);
        }
        finally
        {
            target.Complete();
        }
    }

    /// <summary>Waits for room in the first stage; an item read from the source but cancelled on the way in counts dropped there.</summary>
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
