using System.Diagnostics;
using System.Threading.Channels;
using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// One subscriber of a <see cref="CoordinationBus"/>: a pattern, a message type, a bounded mailbox and the handler
/// loop(s) that empty it. Dispose it to unsubscribe.
/// </summary>
/// <remarks>
/// <para>
/// Every subscription has its own mailbox, so a slow subscriber only fills its own mailbox; what happens then is its
/// own <see cref="FullMode"/>. With <see cref="SubscriptionOptions.MaxConcurrency"/> 1 (the default) messages are
/// handled one at a time, in the order the mailbox took them.
/// </para>
/// <para>
/// Disposing stops intake at once (later publishes no longer match), then the handler drains what is queued. A
/// subscription disposed from inside its own handler does not wait for its own drain (it would wait for itself).
/// </para>
/// </remarks>
[DebuggerDisplay("{Name,nq}: depth {MailboxDepth}, handled {Handled}")]
public abstract class Subscription : IDisposable, IAsyncDisposable
{
    private static readonly AsyncLocal<Subscription?> s_currentHandler = new();

    private readonly Channel<Envelope> _mailbox;
    private readonly CancellationTokenSource _handlerCancellation = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _disposeTask;
    private volatile bool _closed;
    private volatile bool _abandoned;
    private long _received;

    // Written by the handler loop(s) while publishers write _received: padded onto its own cache line so that the two
    // sides do not invalidate each other's line on every message.
    private PaddedCounter _handled;
    private long _failed;
    private long _dropped;

    private protected Subscription(CoordinationBus bus, TopicPattern pattern, Type messageType, string name, SubscriptionOptions options)
    {
        Bus = bus;
        Pattern = pattern;
        MessageType = messageType;
        Name = name;
        MailboxCapacity = options.MailboxCapacity ?? bus.Options.MailboxCapacity;
        FullMode = options.FullMode ?? bus.Options.FullMode;
        MaxConcurrency = options.MaxConcurrency;
        Pipeline = options.ResiliencePipeline ?? bus.Options.ResiliencePipeline;
        var channelOptions = new BoundedChannelOptions(MailboxCapacity)
        {
            FullMode = FullMode switch
            {
                QueueFullMode.DropOldest => BoundedChannelFullMode.DropOldest,
                QueueFullMode.DropNewest => BoundedChannelFullMode.DropNewest,

                // Reject is TryWrite refusing in Wait mode.
                _ => BoundedChannelFullMode.Wait,
            },
            SingleReader = MaxConcurrency == 1,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        };
        _mailbox = FullMode is QueueFullMode.DropOldest or QueueFullMode.DropNewest
            ? Channel.CreateBounded<Envelope>(channelOptions, OnEvicted)
            : Channel.CreateBounded<Envelope>(channelOptions);
    }

    /// <summary>Gets the subscription's name (<see cref="SubscriptionOptions.Name"/>, or the pattern and a sequence number).</summary>
    public string Name { get; }

    /// <summary>Gets the pattern the subscription matches topics against.</summary>
    public TopicPattern Pattern { get; }

    /// <summary>Gets the message type the subscription takes: a published message reaches it only when it is of this
    /// type (or derives from it).</summary>
    public Type MessageType { get; }

    /// <summary>Gets the mailbox capacity.</summary>
    public int MailboxCapacity { get; }

    /// <summary>Gets what the full mailbox does with a new message.</summary>
    public QueueFullMode FullMode { get; }

    /// <summary>Gets how many messages the handler may process at once.</summary>
    public int MaxConcurrency { get; }

    /// <summary>Gets how many messages wait in the mailbox now.</summary>
    public int MailboxDepth => _mailbox.Reader.Count;

    /// <summary>Gets how many messages the mailbox took.</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Gets how many messages the handler completed (or the stream yielded).</summary>
    public long Handled => Interlocked.Read(ref _handled.Value);

    /// <summary>Gets how many messages the handler failed on (after the resilience pipeline); each is a dead letter.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Gets how many messages this subscription's mailbox refused, evicted, or discarded at a drain deadline.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Gets a value indicating whether the subscription still takes messages (it has not been disposed).</summary>
    public bool IsActive => !_closed;

    /// <summary>Gets a task that completes when the subscription has been disposed and its mailbox drained.</summary>
    public Task Completion => _drained.Task;

    internal CoordinationBus Bus { get; }

    internal ResiliencePipeline? Pipeline { get; }

    /// <summary>Whether disposing waits for the mailbox to be emptied (false for streams, which the user reads at their pace).</summary>
    internal virtual bool DrainsOnDispose => true;

    /// <summary>The reply type of a responder; null for a plain subscriber.</summary>
    internal virtual Type? ReplyType => null;

    /// <summary>Whether a handler loop of this subscription is running on the current async flow.</summary>
    internal bool IsCurrentHandler => ReferenceEquals(s_currentHandler.Value, this);

    /// <summary>The subscription whose handler runs on the current async flow, if any.</summary>
    internal static Subscription? CurrentHandler => s_currentHandler.Value;

    /// <summary>Unsubscribes: stops intake at once; queued messages are still handled in the background (see
    /// <see cref="Completion"/>). Idempotent.</summary>
    public void Dispose()
    {
        GC.SuppressFinalize(this);
        _ = DisposeAsync().AsTask();
    }

    /// <summary>Unsubscribes: stops intake at once, then waits until the queued messages are handled (up to
    /// <see cref="CoordinationBusOptions.DrainTimeout"/>, after which the handler is cancelled and the rest dropped with
    /// <see cref="DropReason.DrainTimeout"/>). Called from the subscription's own handler it does not wait. Idempotent.</summary>
    /// <returns>A task that completes when the subscription is drained.</returns>
    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        var task = Volatile.Read(ref _disposeTask);
        if (task is null)
        {
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            task = Interlocked.CompareExchange(ref _disposeTask, created.Task, null);
            if (task is null)
            {
                Bus.Unregister(this);
                Close();
                if (DrainsOnDispose)
                {
                    _ = DrainWithDeadlineAsync(created);
                }
                else
                {
                    created.TrySetResult();
                }

                task = created.Task;
            }
        }

        return IsCurrentHandler ? default : new ValueTask(task);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Pattern}, {MessageType.Name})";

    internal abstract void Start();

    /// <summary>Runs the handler for one message; throws what the handler threw.</summary>
    internal abstract ValueTask InvokeAsync(Envelope envelope, CancellationToken cancellationToken);

    internal bool Accepts(Type messageType) => MessageType.IsAssignableFrom(messageType);

    /// <summary>Offers a message without waiting.</summary>
    internal EnqueueStatus TryEnqueue(Envelope envelope)
    {
        if (_mailbox.Writer.TryWrite(envelope))
        {
            OnAccepted();
            return EnqueueStatus.Accepted;
        }

        // Close() sets _closed before completing the writer, so a write that failed because of completion sees it.
        if (_closed)
        {
            OnClosedBeforeDelivery(envelope);
            return EnqueueStatus.Closed;
        }

        if (FullMode == QueueFullMode.Wait && !IsCurrentHandler)
        {
            return EnqueueStatus.MustWait;
        }

        // Reject mode, or a handler publishing into its own full Wait mailbox, which would wait for itself forever.
        ReportDrop(envelope, DropReason.Rejected);
        return EnqueueStatus.Rejected;
    }

    /// <summary>Offers a message to a full <see cref="QueueFullMode.Wait"/> mailbox, waiting for room.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<EnqueueStatus> EnqueueWaitingAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        try
        {
            await _mailbox.Writer.WriteAsync(envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            OnClosedBeforeDelivery(envelope);
            return EnqueueStatus.Closed;
        }

        OnAccepted();
        return EnqueueStatus.Accepted;
    }

    /// <summary>Stops intake. Safe to call more than once.</summary>
    internal void Close()
    {
        _closed = true;
        _mailbox.Writer.TryComplete();
    }

    /// <summary>Waits for the drain, up to the bus's drain timeout; then cancels the handler and drops what is left.</summary>
    internal async Task DrainWithDeadlineAsync(TaskCompletionSource? disposed = null)
    {
        try
        {
            var drainTimeout = Bus.Options.DrainTimeout;
            if (!_drained.Task.IsCompleted && drainTimeout != Timeout.InfiniteTimeSpan)
            {
                try
                {
                    await _drained.Task.WaitAsync(drainTimeout, Bus.Options.TimeProvider).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    Abandon();
                }
            }

            await _drained.Task.ConfigureAwait(false);
        }
        finally
        {
            disposed?.TrySetResult();
        }
    }

    /// <summary>Cancels running handlers and makes the loops drop the rest of the mailbox.</summary>
    internal virtual void Abandon()
    {
        _abandoned = true;
        try
        {
            _handlerCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A handler's cancellation callback threw; the handler is told through its token regardless.
        }
    }

    private protected void StartHandlerLoops()
    {
        if (MaxConcurrency == 1)
        {
            _ = CompleteWhenDone(Task.Run(RunHandlerLoopAsync));
            return;
        }

        var loops = new Task[MaxConcurrency];
        for (var i = 0; i < loops.Length; i++)
        {
            loops[i] = Task.Run(RunHandlerLoopAsync);
        }

        _ = CompleteWhenDone(Task.WhenAll(loops));
    }

    /// <summary>For stream subscriptions: the mailbox is drained when the reader has read it to the end.</summary>
    private protected void CompleteWhenReaderDone() => _ = CompleteWhenDone(_mailbox.Reader.Completion);

    private protected bool TryRead(out Envelope envelope) => _mailbox.Reader.TryRead(out envelope!);

    private protected ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _mailbox.Reader.WaitToReadAsync(cancellationToken);

    private protected void OnHandled()
    {
        Interlocked.Increment(ref _handled.Value);
    }

    private async Task CompleteWhenDone(Task loops)
    {
        try
        {
            await loops.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The loops catch handler exceptions themselves; nothing else is expected, and the drain must complete.
        }

        Bus.Retire(this);
        _drained.TrySetResult();
    }

    private async Task RunHandlerLoopAsync()
    {
        // Set once per loop rather than per message: it flows into every handler call this loop makes, so that
        // publishing into our own full mailbox and disposing ourselves from a handler can tell they would wait for themselves.
        s_currentHandler.Value = this;
        var reader = _mailbox.Reader;
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (reader.TryRead(out var envelope))
            {
                if (_abandoned)
                {
                    ReportDrop(envelope, DropReason.DrainTimeout);
                    continue;
                }

                var processing = ProcessAsync(envelope);
                if (!processing.IsCompletedSuccessfully)
                {
                    await processing.ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Handles one message. A handler that completes synchronously (the common case for quick handlers) costs
    /// no async state machine; only a pending or faulted one goes through <see cref="AwaitHandlerAsync"/>.</summary>
    private ValueTask ProcessAsync(Envelope envelope)
    {
        var started = BusMetrics.HandlerDurationEnabled ? Bus.Options.TimeProvider.GetTimestamp() : 0;
        // An async method would undo AsyncLocal changes (Activity.Current, ...) a synchronous handler leaves behind;
        // without one, restore them ourselves so that they cannot leak into the next message. Capture is a field read.
        var context = ExecutionContext.Capture();
        ValueTask pending;
        try
        {
            pending = InvokeAsync(envelope, _handlerCancellation.Token);
        }
        catch (Exception exception)
        {
            RestoreContext(context);

            // A handler that throws before returning its ValueTask: same outcome as one whose task faults.
            OnHandlerFailed(envelope, exception, started);
            return default;
        }

        RestoreContext(context);

        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitHandlerAsync(pending, envelope, started);
        }

        OnHandled();
        RecordHandlerDuration(started);
        return default;
    }

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitHandlerAsync(ValueTask pending, Envelope envelope, long started)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            OnHandlerFailed(envelope, exception, started);
            return;
        }

        OnHandled();
        RecordHandlerDuration(started);
    }

    private void OnHandlerFailed(Envelope envelope, Exception exception, long started)
    {
        Interlocked.Increment(ref _failed);
        Bus.OnHandlerFailed(this, envelope, exception);
        if (ReplyType is { } replyType && envelope.Reply is { } sink && sink.Accepts(replyType))
        {
            sink.OnFailure(exception);
        }

        RecordHandlerDuration(started);
    }

    private static void RestoreContext(ExecutionContext? context)
    {
        if (context is not null && !ReferenceEquals(ExecutionContext.Capture(), context))
        {
            ExecutionContext.Restore(context);
        }
    }

    private void RecordHandlerDuration(long started)
    {
        if (started != 0)
        {
            BusMetrics.RecordHandlerDuration(Bus, Bus.Options.TimeProvider.GetElapsedTime(started));
        }
    }

    private void OnAccepted()
    {
        Interlocked.Increment(ref _received);
        BusMetrics.RecordDelivered(Bus);
    }

    private void OnEvicted(Envelope envelope)
    {
        CoordinationBus.CountEviction();
        ReportDrop(envelope, FullMode == QueueFullMode.DropOldest ? DropReason.DroppedOldest : DropReason.DroppedNewest);
    }

    private void ReportDrop(Envelope envelope, DropReason reason)
    {
        Interlocked.Increment(ref _dropped);
        Bus.OnDropped(this, envelope, reason);
        if (ReplyType is { } replyType && envelope.Reply is { } sink && sink.Accepts(replyType))
        {
            sink.OnFailure(new ItemDroppedException(reason));
        }
    }

    private void OnClosedBeforeDelivery(Envelope envelope)
    {
        if (ReplyType is { } replyType && envelope.Reply is { } sink && sink.Accepts(replyType))
        {
            sink.OnFailure(new NoResponderException(envelope.Topic, $"The responder {Name} on topic \"{envelope.Topic}\" unsubscribed before the request reached it."));
        }
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 128)]
    private struct PaddedCounter
    {
        [System.Runtime.InteropServices.FieldOffset(64)]
        public long Value;
    }
}
