using System.Diagnostics;
using System.Threading.Channels;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// One subscriber of a <see cref="CoordinationBus"/>: a pattern, a message type, a bounded mailbox and the handler
/// loop(s) that empty it. Dispose it to unsubscribe.
/// </summary>
/// <remarks>
/// <para>
/// Every subscription has its own mailbox, so a slow subscriber only fills its own mailbox; what happens then is its
/// own <see cref="FullMode"/>. With <see cref="SubscriptionOptions.MaxDegreeOfParallelism"/> 1 (the default) messages
/// are handled one at a time, in the order the mailbox took them.
/// </para>
/// <para>
/// Disposing stops intake at once (later publishes no longer match), then the handler drains what is queued. A
/// subscription disposed from inside its own handler does not wait for its own drain (it would wait for itself).
/// </para>
/// </remarks>
[DebuggerDisplay("{Name,nq}: {Ledger}")]
public abstract partial class Subscription : IDisposable, IAsyncDisposable
{
    // Locking: the mailbox is a bounded Channel (its own lock decides room, eviction and waiting writers). The counters
    // (Subscription.Counting.cs) are interlocked; _countersLock only hands the counters over to the bus once, when the
    // subscription has drained. User code (handlers, OnDropped/OnError) never runs under any lock.
    private readonly Channel<Envelope> _mailbox;
    private readonly CancellationTokenSource _handlerCancellation = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _disposeTask;
    private volatile bool _closed;
    private volatile bool _abandoned;

    // Whether the mailbox evicts to make room (DropOldest, DropNewest); read on every publish.
    private readonly bool _evicts;

    // Whether one loop empties the mailbox (MaxDegreeOfParallelism 1): then the succeeded count has a single writer.
    private readonly bool _singleLoop;

    private protected Subscription(CoordinationBus bus, TopicPattern pattern, Type messageType, string name, SubscriptionOptions options)
    {
        Bus = bus;
        Pattern = pattern;
        MessageType = messageType;
        Name = name;
        QueueCapacity = options.QueueCapacity ?? bus.Options.QueueCapacity;
        FullMode = options.FullMode ?? bus.Options.FullMode;
        MaxDegreeOfParallelism = options.MaxDegreeOfParallelism;
        Pipeline = options.ResiliencePipeline ?? bus.Options.ResiliencePipeline;
        _evicts = FullMode is QueueFullMode.DropOldest or QueueFullMode.DropNewest;
        _singleLoop = MaxDegreeOfParallelism == 1;
        _mailbox = CreateMailbox();
    }

    /// <summary>Gets the subscription's name (<see cref="SubscriptionOptions.Name"/>, or the pattern and a sequence number).</summary>
    public string Name { get; }

    /// <summary>Gets the pattern the subscription matches topics against.</summary>
    public TopicPattern Pattern { get; }

    /// <summary>Gets the message type the subscription takes: a published message reaches it only when it is of this
    /// type (or derives from it).</summary>
    public Type MessageType { get; }

    /// <summary>Gets the mailbox capacity.</summary>
    public int QueueCapacity { get; }

    /// <summary>Gets what the full mailbox does with a new message.</summary>
    public QueueFullMode FullMode { get; }

    /// <summary>Gets how many messages the handler may process at once.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Gets where every delivery offered to this subscription stands: <see cref="LedgerSnapshot.Succeeded"/>
    /// counts messages the handler completed (or the stream yielded), <see cref="LedgerSnapshot.Queued"/> the messages
    /// waiting in the mailbox (and publishers waiting for room).</summary>
    public LedgerSnapshot Ledger => ReadLedger();

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
    internal bool IsCurrentHandler => AmbientComponent<Subscription>.IsInside(this);

    /// <summary>Unsubscribes: stops intake at once; queued messages are still handled in the background (see
    /// <see cref="Completion"/>). Idempotent.</summary>
    public void Dispose()
    {
        GC.SuppressFinalize(this);

        // The drain goes on in the background (see Completion). Its task faults only when the timed wait itself failed
        // (the clock's timer threw); the queued messages have then been dropped and reported, and the exception is
        // observed here and recorded on the current span, since nobody awaits a synchronous Dispose.
        var disposal = DisposeAsync().AsTask();
        if (!disposal.IsCompletedSuccessfully)
        {
            // Cannot fault: the continuation only records the exception on a span.
            _ = disposal.ContinueWith(
                static (task, _) => Telemetry.RecordFailure(Activity.Current, task.Exception!.InnerException ?? task.Exception),
                null,
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    /// <summary>Unsubscribes: stops intake at once, then waits until the queued messages are handled (up to the bus's
    /// <see cref="ComponentOptions.DrainTimeout"/>, after which the handler is cancelled and the rest dropped with
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
                    // Cannot fault: DrainThenSignalAsync hands its failure to the task DisposeAsync returns.
                    _ = DrainThenSignalAsync(created);
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

    /// <remarks>When the timed wait itself fails (the clock's timer throws), the drain cannot be bounded: the handler is
    /// cancelled and the rest dropped at once, as when the timeout passes, and the disposal ends with that exception.</remarks>
    private async Task DrainThenSignalAsync(TaskCompletionSource disposed)
    {
        try
        {
            await DrainAsync().ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            Abandon();
            await _drained.Task.ConfigureAwait(false);
            disposed.TrySetException(exception);
            return;
        }

        disposed.TrySetResult();
    }

}
