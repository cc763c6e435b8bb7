using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ParallelExec.Files;

/// <summary>
/// Runs one operation per input on a fixed number of workers and streams a result per input, in completion order.
/// </summary>
/// <remarks>
/// Shape: indexable inputs (arrays, lists) are claimed by the workers with an interlocked index; any other enumerable
/// is enumerated by one producer into a bounded channel (capacity = worker count) that the workers drain. Workers write
/// results into a bounded channel (capacity = four per worker) that the caller's enumeration reads. Memory therefore stays bounded however many inputs there are, and a slow consumer slows the
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
        // A few results per worker may wait for the consumer, so that workers rarely block on a slow reader and the
        // reader is woken once per burst rather than once per file.
        var results = Channel.CreateBounded<FileResult>(new BoundedChannelOptions(maxParallel * 4) { SingleReader = true });
        Task<Exception?> producer;
        var workers = new Task[maxParallel];
        if (inputs is IReadOnlyList<TInput> list)
        {
            // Indexable inputs (arrays, lists): workers claim the next index themselves, no producer or hand-off needed.
            producer = Task.FromResult<Exception?>(null);
            var next = new StrongBox<int>(-1);
            for (var i = 0; i < workers.Length; i++)
            {
                workers[i] = Task.Run(() => WorkOnListAsync(list, next, results.Writer, operation, token), CancellationToken.None);
            }
        }
        else
        {
            var pending = Channel.CreateBounded<TInput>(new BoundedChannelOptions(maxParallel) { SingleWriter = true });
            producer = Task.Run(() => ProduceAsync(inputs, pending.Writer, token), CancellationToken.None);
            for (var i = 0; i < workers.Length; i++)
            {
                workers[i] = Task.Run(() => WorkAsync(pending.Reader, results.Writer, operation, token), CancellationToken.None);
            }
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
                    if (!writer.TryWrite(result))
                    {
                        await writer.WriteAsync(result, token).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The enumeration was cancelled or abandoned; its consumer sees the cancellation.
        }
    }

    private static async Task WorkOnListAsync<TInput>(
        IReadOnlyList<TInput> inputs,
        StrongBox<int> next,
        ChannelWriter<FileResult> writer,
        Func<TInput, CancellationToken, ValueTask<FileResult>> operation,
        CancellationToken token)
    {
        try
        {
            int index;
            while ((index = Interlocked.Increment(ref next.Value)) < inputs.Count)
            {
                token.ThrowIfCancellationRequested();
                var result = await operation(inputs[index], token).ConfigureAwait(false);
                if (!writer.TryWrite(result))
                {
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
