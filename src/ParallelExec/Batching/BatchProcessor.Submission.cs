using System.Diagnostics.CodeAnalysis;
using System.Runtime.ExceptionServices;

namespace ParallelExec.Batching;

// The public ways in: awaited (SubmitAsync, SubmitManyAsync) and fire-and-forget (TryPost, PostAsync), and the waits
// for room in QueueFullMode.Wait. The decision itself is in BatchProcessor.Admission.cs.
public sealed partial class BatchProcessor<TItem, TResult>
{
    /// <summary>
    /// Submits one item and returns a task that completes with its result when its batch has been handled.
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">
    /// Cancels the wait: while the item waits for its batch to start, cancelling takes it out of the batch and the task
    /// ends cancelled. Once its batch has started, the handler's token governs and this token is ignored.
    /// </param>
    /// <returns>
    /// The item's result. Await it exactly once (it is backed by a pooled object). It fails with the handler's exception,
    /// a <see cref="KeyNotFoundException"/> (by-key handler without the item's key), an <see cref="ItemDroppedException"/>
    /// (the full mode or the drain timeout dropped it), or an <see cref="OperationCanceledException"/>.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the item's batch started (through the returned task).</exception>
    public ValueTask<TResult> SubmitAsync(TItem item, CancellationToken cancellationToken = default)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        // A read outside the lock, to fail fast before taking a pooled source; Enqueue decides again under the lock.
        if (!_lifecycle.IsOpen)
        {
            ThrowClosed();
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<TResult>(cancellationToken);
        }

        var caller = _sources.Get();
        var task = caller.AsValueTask();
        if (cancellationToken.CanBeCanceled)
        {
            // Registered before the caller can be seen by a batch, so the callback never sees a recycled source.
            caller.Token = cancellationToken;
            caller.Registration = cancellationToken.UnsafeRegister(_onCancel, caller);
        }
        else if (TryAppend(item, caller))
        {
            // Nothing can take an uncancellable submission out of its batch before it starts but eviction and the
            // drain, which complete it through the same source.
            return task;
        }

        var effects = default(Effects);
        var result = Enqueue(item, caller, ref effects);
        Apply(in effects);
        return result switch
        {
            EnqueueResult.Accepted or EnqueueResult.AcceptedAfterDrop => task,
            EnqueueResult.Full => SubmitWhenRoomAsync(item, caller, effects.Room!, cancellationToken),
            _ => Refuse(item, caller, result, cancellationToken),
        };
    }

    /// <summary>
    /// Submits several items and returns their results in input order once every one of them has completed.
    /// </summary>
    /// <param name="items">The items.</param>
    /// <param name="cancellationToken">Cancels the items that have not started yet (see <see cref="SubmitAsync"/>).</param>
    /// <returns>The results, in the order of <paramref name="items"/>.</returns>
    /// <remarks>Every item is awaited before this returns; if some failed, the first failure in input order is thrown.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> cancelled an item before its batch started.</exception>
    public async ValueTask<IReadOnlyList<TResult>> SubmitManyAsync(IEnumerable<TItem> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var submitted = items is IReadOnlyCollection<TItem> collection
            ? new List<ValueTask<TResult>>(collection.Count)
            : [];
        ExceptionDispatchInfo? refused = null;
        try
        {
            foreach (var item in items)
            {
                submitted.Add(SubmitAsync(item, cancellationToken));
            }
        }
        catch (Exception ex) when (ex is ArgumentNullException or InvalidOperationException)
        {
            // Null item, or intake stopped (ObjectDisposedException is an InvalidOperationException): the items already
            // submitted still end in the ledger; observe them before reporting.
            refused = ExceptionDispatchInfo.Capture(ex);
        }

        var results = new TResult[submitted.Count];
        ExceptionDispatchInfo? firstFailure = null;
        for (var i = 0; i < submitted.Count; i++)
        {
            try
            {
                results[i] = await submitted[i].ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                firstFailure ??= ExceptionDispatchInfo.Capture(ex);
            }
        }

        refused?.Throw();
        firstFailure?.Throw();
        return results;
    }

    /// <summary>
    /// Posts one item, fire-and-forget, without waiting for room: its result is discarded and a failure goes to
    /// <see cref="BatchProcessorOptions{TItem}.OnError"/> (or, without one, to the handler call's trace span and the
    /// failure counter).
    /// </summary>
    /// <param name="item">The item.</param>
    /// <returns>
    /// <see cref="PostResult.Accepted"/>; <see cref="PostResult.AcceptedAfterDrop"/> when another waiting item was
    /// evicted to make room (<see cref="QueueFullMode.DropOldest"/>, <see cref="QueueFullMode.DropNewest"/>);
    /// <see cref="PostResult.QueueFull"/> when the queue was full in <see cref="QueueFullMode.Wait"/> mode (the item was not
    /// taken; try again or use <see cref="PostAsync"/>); <see cref="PostResult.Rejected"/> when it was refused in
    /// <see cref="QueueFullMode.Reject"/> mode (reported to <see cref="BatchProcessorOptions{TItem}.OnDropped"/>).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    public PostResult TryPost(TItem item)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        if (TryAppend(item, null))
        {
            return PostResult.Accepted;
        }

        var effects = default(Effects);
        var result = Enqueue(item, null, ref effects);
        Apply(in effects);
        return ToPostResult(item, result);
    }

    /// <summary>
    /// Posts one item, fire-and-forget, waiting for room when the queue is full in <see cref="QueueFullMode.Wait"/> mode:
    /// its result is discarded and a failure goes to <see cref="BatchProcessorOptions{TItem}.OnError"/> (or, without one,
    /// to the handler call's trace span and the failure counter).
    /// </summary>
    /// <param name="item">The item.</param>
    /// <param name="cancellationToken">Cancels the wait for room (only; a posted item is not cancellable).</param>
    /// <returns>
    /// <see cref="PostResult.Accepted"/>, <see cref="PostResult.AcceptedAfterDrop"/> (another item was evicted to make
    /// room), or <see cref="PostResult.Rejected"/> (refused in <see cref="QueueFullMode.Reject"/> mode and reported to
    /// <see cref="BatchProcessorOptions{TItem}.OnDropped"/>).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="item"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The processor is disposed or disposing.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting for room.</exception>
    public ValueTask<PostResult> PostAsync(TItem item, CancellationToken cancellationToken = default)
    {
        if (item is null)
        {
            throw new ArgumentNullException(nameof(item));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<PostResult>(cancellationToken);
        }

        if (TryAppend(item, null))
        {
            return new ValueTask<PostResult>(PostResult.Accepted);
        }

        var effects = default(Effects);
        var result = Enqueue(item, null, ref effects);
        Apply(in effects);
        return result == EnqueueResult.Full
            ? PostWhenRoomAsync(item, effects.Room!, cancellationToken)
            : new ValueTask<PostResult>(ToPostResult(item, result));
    }

    [DoesNotReturn]
    private void ThrowClosed() => throw _lifecycle.CreateClosedException(Name);

    /// <summary>Turns a fire-and-forget admission into its result, reporting a refusal.</summary>
    private PostResult ToPostResult(TItem item, EnqueueResult result)
    {
        switch (result)
        {
            case EnqueueResult.Accepted:
                return PostResult.Accepted;
            case EnqueueResult.AcceptedAfterDrop:
                return PostResult.AcceptedAfterDrop;
            case EnqueueResult.Full:
                return PostResult.QueueFull;
            case EnqueueResult.Rejected:
                _reporter.Dropped(DropReason.Rejected, item);
                return PostResult.Rejected;
            default:
                ThrowClosed();
                return default;
        }
    }

    private ValueTask<TResult> Refuse(TItem item, BatchItemSource<TItem, TResult> caller, EnqueueResult result, CancellationToken cancellationToken)
    {
        caller.Registration.Dispose();
        caller.ReturnToPool();
        switch (result)
        {
            case EnqueueResult.Rejected:
                _reporter.Dropped(DropReason.Rejected, item);
                return ValueTask.FromException<TResult>(new ItemDroppedException(DropReason.Rejected));
            case EnqueueResult.Cancelled:
                return ValueTask.FromCanceled<TResult>(cancellationToken);
            default:
                ThrowClosed();
                return default;
        }
    }

    private async ValueTask<TResult> SubmitWhenRoomAsync(
        TItem item, BatchItemSource<TItem, TResult> caller, Task room, CancellationToken cancellationToken)
    {
        var task = caller.AsValueTask();
        while (true)
        {
            try
            {
                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                caller.Registration.Dispose();
                caller.ReturnToPool();
                throw;
            }

            var effects = default(Effects);
            var result = Enqueue(item, caller, ref effects);
            Apply(in effects);
            switch (result)
            {
                case EnqueueResult.Accepted or EnqueueResult.AcceptedAfterDrop:
                    return await task.ConfigureAwait(false);
                case EnqueueResult.Full:
                    room = effects.Room!;
                    break;
                default:
                    return await Refuse(item, caller, result, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<PostResult> PostWhenRoomAsync(TItem item, Task room, CancellationToken cancellationToken)
    {
        while (true)
        {
            await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            var effects = default(Effects);
            var result = Enqueue(item, null, ref effects);
            Apply(in effects);
            if (result != EnqueueResult.Full)
            {
                return ToPostResult(item, result);
            }

            room = effects.Room!;
        }
    }
}
