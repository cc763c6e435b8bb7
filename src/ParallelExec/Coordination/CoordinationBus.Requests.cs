namespace ParallelExec.Coordination;

/// <summary>Request/reply, scatter-gather, waits and barriers: everything a caller awaits an answer from.</summary>
public sealed partial class CoordinationBus
{
    /// <summary>Sends a request and returns the first reply.</summary>
    /// <typeparam name="TRequest">The request type.</typeparam>
    /// <typeparam name="TReply">The reply type; responders whose reply type is assignable to it answer.</typeparam>
    /// <param name="topic">The topic (no wildcards).</param>
    /// <param name="request">The request.</param>
    /// <param name="timeout">How long to wait for a reply, counted from the call; null for
    /// <see cref="CoordinationBusOptions.RequestTimeout"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The first reply.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is not a valid topic.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (and not infinite), or
    /// longer than <see cref="OptionsValidator.MaxTimerSpan"/> (about 49.7 days).</exception>
    /// <exception cref="NoResponderException">No responder matches the topic and types (thrown at once), or every
    /// responder unsubscribed before the request reached it.</exception>
    /// <exception cref="TimeoutException">No reply arrived within the timeout.</exception>
    /// <exception cref="ItemDroppedException">Every responder's full mailbox dropped the request.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>When every responder fails, the exception of the first failure is thrown. A request never times out
    /// before <paramref name="timeout"/>; with the system clock it may time out up to a few tens of milliseconds after it
    /// (the bus keeps deadlines on the runtime's coarse tick count, which its timers run on anyway).</remarks>
    public Task<TReply> RequestAsync<TRequest, TReply>(string topic, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        // Route validates the topic when it is not cached yet (a cached route proves it valid), as for PublishAsync:
        // validating here too cost a scan of the topic on every request.
        ArgumentNullException.ThrowIfNull(topic);
        var wait = timeout ?? Options.RequestTimeout;
        ValidateTimeout(wait, nameof(timeout));
        ThrowIfNotOpen();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TReply>(cancellationToken);
        }

        var targets = Route(topic, RuntimeType(request));
        var sink = new SingleReplySink<TReply>(this, topic, wait);
        var responders = CountResponders(targets, sink);
        if (responders == 0)
        {
            return Task.FromException<TReply>(new NoResponderException(topic));
        }

        sink.SetResponders(responders);
        sink.Arm(cancellationToken);
        var envelope = CreateEnvelope(topic, request, sink, out var span);
        var delivery = DeliverAsync(envelope, targets, span, cancellationToken);
        return delivery.IsCompletedSuccessfully ? sink.Task : AwaitDeliveryThenReply(delivery, sink.Task);

        static async Task<TReply> AwaitDeliveryThenReply(ValueTask<PublishResult> delivery, Task<TReply> reply)
        {
            await delivery.ConfigureAwait(false);
            return await reply.ConfigureAwait(false);
        }
    }

    /// <summary>Sends a request to every matching responder and collects their replies, until all responders
    /// answered, <paramref name="maxReplies"/> replies arrived, or the window ended — whichever comes first.</summary>
    /// <typeparam name="TRequest">The request type.</typeparam>
    /// <typeparam name="TReply">The reply type.</typeparam>
    /// <param name="topic">The topic (no wildcards).</param>
    /// <param name="request">The request.</param>
    /// <param name="window">How long to collect replies, counted from the call.</param>
    /// <param name="maxReplies">Stop after this many replies (first N); <see cref="int.MaxValue"/> for all.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The replies, the failures, and whether the window ended first.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is not a valid topic.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is zero or negative (and not infinite) or
    /// longer than <see cref="OptionsValidator.MaxTimerSpan"/>, or <paramref name="maxReplies"/> is less than one.</exception>
    /// <exception cref="NoResponderException">No responder matches the topic and types (thrown at once).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<ScatterGatherResult<TReply>> ScatterGatherAsync<TRequest, TReply>(string topic, TRequest request, TimeSpan window, int maxReplies = int.MaxValue, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ValidateTimeout(window, nameof(window));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReplies, 1);
        ThrowIfNotOpen();
        cancellationToken.ThrowIfCancellationRequested();
        var started = Options.TimeProvider.GetTimestamp();
        var targets = Route(topic, RuntimeType(request));
        var sink = new GatherReplySink<TReply>(maxReplies);
        var responders = CountResponders(targets, sink);
        if (responders == 0)
        {
            throw new NoResponderException(topic);
        }

        sink.SetResponders(responders);
        var envelope = CreateEnvelope(topic, request, sink, out var span);
        await DeliverAsync(envelope, targets, span, cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitAsync(sink.Completion, Remaining(window, started), cancellationToken).ConfigureAwait(false);
            return sink.Close(windowElapsed: false);
        }
        catch (TimeoutException)
        {
            return sink.Close(windowElapsed: true);
        }
    }

    /// <summary>Waits for the first message on a matching topic that satisfies a predicate.</summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="predicate">Which message to wait for; null for the first one. An exception from it fails the wait.</param>
    /// <param name="timeout">How long to wait; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The message.</returns>
    /// <remarks>Only messages published after the call count. The wait is a temporary subscription (a
    /// <see cref="QueueFullMode.DropOldest"/> mailbox, so it never slows publishers) that counts as a subscriber while it lasts.</remarks>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (and not infinite), or
    /// longer than <see cref="OptionsValidator.MaxTimerSpan"/>.</exception>
    /// <exception cref="TimeoutException">No such message arrived in time.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<BusMessage<T>> WaitForAsync<T>(string pattern, Func<T, bool>? predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ValidateTimeout(timeout, nameof(timeout));
        var found = new TaskCompletionSource<BusMessage<T>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var subscription = Subscribe<T>(
            pattern,
            message =>
            {
                if (found.Task.IsCompleted)
                {
                    return;
                }

                try
                {
                    if (predicate is null || predicate(message.Message))
                    {
                        found.TrySetResult(message);
                    }
                }
                catch (Exception exception)
                {
                    found.TrySetException(exception);
                }
            },
            new SubscriptionOptions { Name = $"wait-for:{pattern}", FullMode = QueueFullMode.DropOldest, QueueCapacity = 64 });
        try
        {
            return await WaitAsync(found.Task, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No message on \"{pattern}\" matched within {timeout}.");
        }
        finally
        {
            subscription.Dispose();
        }
    }

    /// <summary>Creates a barrier that releases its waiters each time <paramref name="participantCount"/> of them arrived.</summary>
    /// <param name="participantCount">How many participants each phase waits for.</param>
    /// <returns>The barrier. Disposing the bus fails its waiters with <see cref="ObjectDisposedException"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="participantCount"/> is less than one.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public CoordinationBarrier CreateBarrier(int participantCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(participantCount, 1);
        ThrowIfDisposed();
        return new CoordinationBarrier(this, participantCount);
    }

    /// <summary>Waits for <paramref name="task"/> with a timeout on the bus's clock, the caller's token and the bus's
    /// disposal; disposal surfaces as <see cref="ObjectDisposedException"/>.</summary>
    internal async Task<T> WaitAsync<T>(Task<T> task, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (task.IsCompleted)
        {
            return await task.ConfigureAwait(false);
        }

        // Linking costs an allocation and a registration: only when the caller's token can fire.
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token) : null;
        try
        {
            return await task.WaitAsync(timeout, Options.TimeProvider, linked?.Token ?? _disposed.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _disposed.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(CoordinationBus), $"The bus {Name} was disposed while waiting.");
        }
    }

    /// <inheritdoc cref="WaitAsync{T}(Task{T}, TimeSpan, CancellationToken)"/>
    internal Task WaitAsync(Task task, TimeSpan timeout, CancellationToken cancellationToken) =>
        WaitAsync(AsBoolTask(task), timeout, cancellationToken);

    private static async Task<bool> AsBoolTask(Task task)
    {
        await task.ConfigureAwait(false);
        return true;
    }

    /// <summary>Refuses a wait that is not positive (and not infinite), or longer than a timer can wait (as the options'
    /// timeouts are refused: past it the runtime's timers throw, naming their own parameter, inside the wait).</summary>
    internal static void ValidateTimeout(TimeSpan timeout, string paramName)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"{paramName} must be greater than zero or Timeout.InfiniteTimeSpan.");
        }

        if (timeout > OptionsValidator.MaxTimerSpan)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"{paramName} must be at most {OptionsValidator.MaxTimerSpan} (the longest timer) or Timeout.InfiniteTimeSpan.");
        }
    }

    private static int CountResponders(Subscription[] targets, IReplySink sink)
    {
        var count = 0;
        foreach (var target in targets)
        {
            if (target.ReplyType is { } replyType && sink.Accepts(replyType))
            {
                count++;
            }
        }

        return count;
    }

    private TimeSpan Remaining(TimeSpan total, long started)
    {
        if (total == Timeout.InfiniteTimeSpan)
        {
            return total;
        }

        var remaining = total - Options.TimeProvider.GetElapsedTime(started);

        // Task.WaitAsync treats zero as "already timed out" only after checking completion, which is what we want.
        return remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero;
    }
}
