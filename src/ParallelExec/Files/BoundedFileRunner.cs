using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ParallelExec.Files;

/// <summary>
/// Runs one operation per input on a fixed number of workers and streams a result per input, in completion order.
/// </summary>
/// <remarks>
/// Shape: one producer enumerates the caller's inputs into a bounded channel (capacity = worker count), the workers
/// drain it and write results into a second bounded channel (capacity = twice the worker count) that the caller's
/// enumeration reads. Memory therefore stays bounded however many inputs there are, and a slow consumer slows the
/// workers instead of buffering results. The caller's enumerable is only touched by the producer, outside any lock.
/// When the consumer stops early (break, dispose, cancellation) the workers are cancelled and awaited before the
/// enumeration returns, so no file operation outlives the call.
/// </remarks>
internal static class BoundedFileRunner
{
    public static async IAsyncEnumerable<FileResult> RunAsync<TInput>(
        IEnumerable<TInput> inputs,
        int maxParallel,
        Func<TInput, CancellationToken, ValueTask<FileResult>> operation,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var token = stop.Token;
        var pending = Channel.CreateBounded<TInput>(new BoundedChannelOptions(maxParallel) { SingleWriter = true });
        var results = Channel.CreateBounded<FileResult>(new BoundedChannelOptions(maxParallel * 2) { SingleReader = true });

        var producer = Task.Run(() => ProduceAsync(inputs, pending.Writer, token), CancellationToken.None);
        var workers = new Task[maxParallel];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(() => WorkAsync(pending.Reader, results.Writer, operation, token), CancellationToken.None);
        }

        var completion = CompleteResultsAsync(producer, workers, results.Writer);
        try
        {
            while (await results.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (results.Reader.TryRead(out var result))
                {
                    yield return result;
                }
            }
        }
        finally
        {
            // Normal end: everything is done already. Early end: stop the workers and wait for them, so that no file
            // handle or temporary file outlives the enumeration.
            await stop.CancelAsync().ConfigureAwait(false);
            await completion.ConfigureAwait(false);
        }
    }

    private static async Task<Exception?> ProduceAsync<TInput>(IEnumerable<TInput> inputs, ChannelWriter<TInput> writer, CancellationToken token)
    {
        try
        {
            foreach (var input in inputs)
            {
                await writer.WriteAsync(input, token).ConfigureAwait(false);
            }

            return null;
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex)
        {
            // The caller's enumerable failed (for example a directory vanished during a walk): the files already
            // handed out still finish and report, then the enumeration rethrows this.
            return ex;
        }
        finally
        {
            writer.TryComplete();
        }
    }

    private static async Task WorkAsync<TInput>(
        ChannelReader<TInput> reader,
        ChannelWriter<FileResult> writer,
        Func<TInput, CancellationToken, ValueTask<FileResult>> operation,
        CancellationToken token)
    {
        try
        {
            while (await reader.WaitToReadAsync(token).ConfigureAwait(false))
            {
                while (reader.TryRead(out var input))
                {
                    var result = await operation(input, token).ConfigureAwait(false);
                    await writer.WriteAsync(result, token).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The enumeration was cancelled or abandoned; its consumer sees the cancellation.
        }
    }

    private static async Task CompleteResultsAsync(Task<Exception?> producer, Task[] workers, ChannelWriter<FileResult> writer)
    {
        Exception? failure = null;
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        failure ??= await producer.ConfigureAwait(false);
        writer.TryComplete(failure);
    }
}
