using System.Runtime.CompilerServices;
using System.Threading.Channels;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

public sealed partial class WorkerPool
{
    /// <summary>
    /// Runs <paramref name="body"/> for every item of <paramref name="source"/> on the pool's workers and yields the
    /// results as they are ready, in input or completion order.
    /// </summary>
    /// <typeparam name="TSource">The item type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="source">The items; enumerated lazily, at most twice <see cref="MaxDegreeOfParallelism"/> ahead of the results.</param>
    /// <param name="body">The work per item; it receives a token cancelled when the run stops.</param>
    /// <param name="order">Whether results come in input order or as they complete.</param>
    /// <param name="cancellationToken">Stops the run: queued items are removed, running items see their token cancelled,
    /// and the enumeration ends with <see cref="OperationCanceledException"/>.</param>
    /// <returns>The results. On the first failure the run stops taking items, cancels the items in flight and waits for
    /// them, then throws an <see cref="AggregateException"/> holding every real failure (not the cancellations the
    /// first failure caused). Stopping the enumeration early cancels and waits for the items in flight.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="source"/> or <paramref name="body"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> has been called.</exception>
    public IAsyncEnumerable<TResult> ProcessAsync<TSource, TResult>(
        IEnumerable<TSource> source, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        ResultOrder order = ResultOrder.Input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(body);
        ThrowIfNotOpen();
        return ProcessCoreAsync(ToAsyncEnumerable(source), body, order, cancellationToken);
    }

    /// <inheritdoc cref="ProcessAsync{TSource, TResult}(IEnumerable{TSource}, Func{TSource, CancellationToken, ValueTask{TResult}}, ResultOrder, CancellationToken)"/>
    public IAsyncEnumerable<TResult> ProcessAsync<TSource, TResult>(
        IAsyncEnumerable<TSource> source, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        ResultOrder order = ResultOrder.Input, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(body);
        ThrowIfNotOpen();
        return ProcessCoreAsync(source, body, order, cancellationToken);
    }

    private async IAsyncEnumerable<TResult> ProcessCoreAsync<TSource, TResult>(
        IAsyncEnumerable<TSource> source, Func<TSource, CancellationToken, ValueTask<TResult>> body,
        ResultOrder order, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // One source for the whole run: the caller's token or the first failure cancels it, and through each item's
        // registration that removes queued items and reaches running ones.
        using var runCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var completions = Channel.CreateUnbounded<SequenceWorkItem<TSource, TResult>>(
            new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
        var window = Math.Max(1, 2 * MaxDegreeOfParallelism);
        var waitingForOrder = order == ResultOrder.Input ? new Dictionary<long, TResult>() : null;
        long nextIndex = 0;
        long nextToYield = 0;
        var inFlight = 0;
        var sourceDone = false;
        List<Exception>? failures = null;
        var enumerator = source.GetAsyncEnumerator(runCts.Token);
        try
        {
            while (true)
            {
                while (!sourceDone && failures is null && !runCts.IsCancellationRequested && inFlight < window)
                {
                    if (!await enumerator.MoveNextAsync().ConfigureAwait(false))
                    {
                        sourceDone = true;
                        break;
                    }

                    var item = new SequenceWorkItem<TSource, TResult>(this, nextIndex++, enumerator.Current, body, completions.Writer);
                    inFlight++;
                    try
                    {
                        WorkItem? admitted = item;
                        Admit(ref admitted, canWait: true, runCts.Token, out _);
                    }
                    catch
                    {
                        inFlight--;
                        throw;
                    }
                }

                if (inFlight == 0)
                {
                    break;
                }

                await completions.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false);
                while (completions.Reader.TryRead(out var done))
                {
                    inFlight--;
                    if (done.Outcome == ItemOutcome.Succeeded)
                    {
                        if (waitingForOrder is null)
                        {
                            if (failures is null)
                            {
                                yield return done.Result;
                            }
                        }
                        else
                        {
                            waitingForOrder.Add(done.Index, done.Result);
                        }
                    }
                    else if (!(done.Error is OperationCanceledException && runCts.IsCancellationRequested))
                    {
                        (failures ??= []).Add(done.Error!);
                        await runCts.CancelAsync().ConfigureAwait(false);
                    }
                }

                while (failures is null && waitingForOrder is not null && waitingForOrder.Remove(nextToYield, out var result))
                {
                    nextToYield++;
                    yield return result;
                }
            }
        }
        finally
        {
            if (inFlight > 0)
            {
                // The consumer stopped early or something threw: cancel the rest and wait for it, so no item outlives the run.
                await runCts.CancelAsync().ConfigureAwait(false);
                while (inFlight > 0)
                {
                    await completions.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false);
                    while (completions.Reader.TryRead(out _))
                    {
                        inFlight--;
                    }
                }
            }

            await enumerator.DisposeAsync().ConfigureAwait(false);
        }

        if (failures is not null)
        {
            throw new AggregateException(failures);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private static async IAsyncEnumerable<T> ToAsyncEnumerable<T>(IEnumerable<T> source, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        foreach (var item in source)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return item;
            await Task.CompletedTask.ConfigureAwait(false);
        }
    }
}
