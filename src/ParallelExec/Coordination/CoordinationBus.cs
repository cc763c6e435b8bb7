using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace ParallelExec.Coordination;

/// <summary>
/// An in-process, asynchronous publish/subscribe bus for coordinating agents and tasks by events instead of waiting
/// for each other step by step: typed messages on dot-separated topics, wildcard subscriptions, a bounded mailbox per
/// subscriber, request/reply and scatter-gather with timeouts, dead letters, barriers and waits.
/// </summary>
/// <remarks>
/// <para>
/// Topics are dot-separated segments (<c>agents.coder.done</c>). Subscriptions take a <see cref="TopicPattern"/>:
/// <c>*</c> matches exactly one segment (<c>agents.*.done</c>), <c>&gt;</c> as the last segment matches one or more
/// segments (<c>agents.&gt;</c>). A message reaches a subscription when the pattern matches its topic and the message is of
/// the subscription's type (or derives from it).
/// </para>
/// <para>
/// Publishing routes through a per-topic cache of matching subscribers (rebuilt when subscriptions change, copy on
/// write, so publishing takes no lock) and offers the message to each subscriber's bounded mailbox. A subscriber's full
/// mailbox only affects that subscriber, according to its <see cref="QueueFullMode"/>.
/// </para>
/// <para>
/// Subscribing, unsubscribing and publishing from inside a handler are safe. Disposing the bus stops intake, lets every
/// handler drain its mailbox (up to <see cref="CoordinationBusOptions.DrainTimeout"/>), then fails pending requests,
/// barrier waits and <see cref="WaitForAsync{T}(string, Func{T, bool}?, TimeSpan, CancellationToken)"/> calls with
/// <see cref="ObjectDisposedException"/>.
/// </para>
/// </remarks>
[DebuggerDisplay("{Name,nq}: {SubscriptionCount} subscriptions, depth {MailboxDepth}")]
public sealed class CoordinationBus : IAsyncDisposable
{
    // Route caches are capped so that a stream of ever-new topics cannot grow memory without bound; past the cap,
    // uncached topics are matched against every subscription on each publish.
    private const int MaxCachedRoutes = 4096;

    [ThreadStatic]
    private static int t_evictions;

    private readonly object _registryLock = new();
    private readonly Channel<DeadLetter> _deadLetters;
    private readonly CancellationTokenSource _disposed = new();
    private RoutingTable _routing = new([]);
    private Task? _disposeTask;

    // Self-disposal (DisposeAsync called from a handler of this bus), guarded by _registryLock: the subscriptions taken
    // out of the routing table by the disposal, those whose handlers called DisposeAsync, and a signal replaced each
    // time that set grows.
    private Subscription[] _draining = [];
    private HashSet<Subscription>? _selfDisposers;
    private TaskCompletionSource? _selfDisposersChanged;

    // Every publish (plain, request, scatter-gather) takes exactly one id, so the last id is also the published count:
    // one interlocked operation per publish instead of two.
    private long _nextMessageId;
    private long _nextSubscriptionNumber;
    private readonly object _statisticsLock = new();

    // Subscriptions count what they received and handled themselves (no shared counter on the hot path); the bus sums
    // the live ones and keeps the totals of those that finished draining.
    private readonly HashSet<Subscription> _counted = [];
    private long _retiredDelivered;
    private long _retiredHandled;
    private long _failed;
    private long _dropped;
    private long _deadLettered;
    private long _deadLettersLost;

    /// <summary>Creates a bus.</summary>
    /// <param name="options">The options; validated and copied. Null for the defaults.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public CoordinationBus(CoordinationBusOptions? options = null)
    {
        Options = (options ?? new CoordinationBusOptions()).Validate();
        _deadLetters = Channel.CreateBounded<DeadLetter>(
            new BoundedChannelOptions(Options.DeadLetterCapacity) { FullMode = BoundedChannelFullMode.DropOldest, AllowSynchronousContinuations = false },
            _ => Interlocked.Increment(ref _deadLettersLost));
        BusMetrics.Register(this);
    }

    /// <summary>Gets the name of the bus (<see cref="CoordinationBusOptions.Name"/>).</summary>
    public string Name => Options.Name;

    /// <summary>Gets how many subscriptions are active.</summary>
    public int SubscriptionCount => Volatile.Read(ref _routing).All.Length;

    /// <summary>Gets how many messages wait in all mailboxes now.</summary>
    public int MailboxDepth
    {
        get
        {
            var depth = 0;
            foreach (var subscription in Volatile.Read(ref _routing).All)
            {
                depth += subscription.MailboxDepth;
            }

            return depth;
        }
    }

    internal CoordinationBusOptions Options { get; }

    internal CancellationToken DisposedToken => _disposed.Token;

    /// <summary>Publishes a message to a topic.</summary>
    /// <typeparam name="T">The message type; subscriptions of this type or a base type receive it.</typeparam>
    /// <param name="topic">The topic: dot-separated, non-empty segments, no wildcards.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels waiting for room in full <see cref="QueueFullMode.Wait"/> mailboxes.</param>
    /// <returns>How many subscribers matched, took, refused the message, and how many older messages were evicted for it.
    /// Completes synchronously unless a matching <see cref="QueueFullMode.Wait"/> mailbox is full.</returns>
    /// <remarks>
    /// The message is first offered to every matching mailbox without waiting. Full <see cref="QueueFullMode.Wait"/>
    /// mailboxes are then awaited one by one; meanwhile the subscribers that took the message are already handling it.
    /// A message nobody matched goes to the dead letters (<see cref="DeadLetterReason.NoSubscribers"/>).
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is not a valid topic (empty segment, wildcard).</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the
    /// message was offered, or while waiting for room (subscribers that already took it keep it).</exception>
    public ValueTask<PublishResult> PublishAsync<T>(string topic, T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();

        // Route validates the topic when it is not cached yet; a cached route proves the topic valid.
        var targets = Route(topic, RuntimeType(message));
        var envelope = new Envelope<T>(topic, message, NextMessageId(), Options.TimeProvider.GetUtcNow(), reply: null);
        OnPublished();
        if (targets.Length == 0)
        {
            DeadLetter(envelope, DeadLetterReason.NoSubscribers, null, null);
            return new ValueTask<PublishResult>(new PublishResult(envelope.Id, 0, 0, 0, 0));
        }

        return DeliverAsync(envelope, targets, cancellationToken);
    }

    /// <summary>Subscribes a handler to a topic pattern, with the bus's default mailbox.</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message; an exception sends it to the dead letters.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Subscribe<T>(string pattern, Func<BusMessage<T>, CancellationToken, ValueTask> handler) => Subscribe(pattern, handler, null);

    /// <summary>Subscribes a synchronous handler to a topic pattern, with the bus's default mailbox.</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message; an exception sends it to the dead letters.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Subscribe<T>(string pattern, Action<BusMessage<T>> handler) => Subscribe(pattern, handler, null);

    /// <summary>Subscribes a handler to a topic pattern.</summary>
    /// <typeparam name="T">The message type to receive; messages of other types on matching topics are not delivered.
    /// Use <see cref="object"/> to receive every message.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message. An exception sends the message to the dead letters
    /// (<see cref="DeadLetterReason.HandlerFailed"/>), after the resilience pipeline if one is set; the token is
    /// cancelled when a drain deadline passes.</param>
    /// <param name="options">Mailbox and concurrency options; null for the bus's defaults.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid, or an option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Subscribe<T>(string pattern, Func<BusMessage<T>, CancellationToken, ValueTask> handler, SubscriptionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var parsed = TopicPattern.Parse(pattern);
        var validated = (options ?? new SubscriptionOptions()).Validate();
        return Add(new HandlerSubscription<T>(this, parsed, NameFor(parsed, validated), validated, handler));
    }

    /// <summary>Subscribes a synchronous handler to a topic pattern.</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message; an exception sends it to the dead letters.</param>
    /// <param name="options">Mailbox and concurrency options; null for the bus's defaults.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid, or an option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Subscribe<T>(string pattern, Action<BusMessage<T>> handler, SubscriptionOptions? options)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Subscribe<T>(pattern, (message, _) =>
        {
            handler(message);
            return default;
        }, options);
    }

    /// <summary>Subscribes a stream: the messages are read with <c>await foreach</c> instead of a handler.</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="options">Mailbox options; null for the bus's defaults.</param>
    /// <returns>The subscription, which is an <see cref="IAsyncEnumerable{T}"/>; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid, or an option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public StreamSubscription<T> SubscribeStream<T>(string pattern, SubscriptionOptions? options = null)
    {
        var parsed = TopicPattern.Parse(pattern);
        var validated = (options ?? new SubscriptionOptions()).Validate();
        var subscription = new StreamSubscription<T>(this, parsed, NameFor(parsed, validated), validated);
        Add(subscription);
        return subscription;
    }

    /// <summary>Subscribes a responder: its result is the reply to requests sent with
    /// <see cref="RequestAsync{TRequest, TReply}(string, TRequest, TimeSpan?, CancellationToken)"/> or
    /// <see cref="ScatterGatherAsync{TRequest, TReply}(string, TRequest, TimeSpan, int, CancellationToken)"/>.</summary>
    /// <typeparam name="TRequest">The request type.</typeparam>
    /// <typeparam name="TReply">The reply type.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="responder">Computes the reply. An exception fails the request (when it was the only responder) and
    /// sends the message to the dead letters. A plain publish to a matching topic runs it too; the reply is discarded.</param>
    /// <param name="options">Mailbox and concurrency options; null for the bus's defaults.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="responder"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid, or an option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Respond<TRequest, TReply>(string pattern, Func<BusMessage<TRequest>, CancellationToken, ValueTask<TReply>> responder, SubscriptionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(responder);
        var parsed = TopicPattern.Parse(pattern);
        var validated = (options ?? new SubscriptionOptions()).Validate();
        return Add(new ResponderSubscription<TRequest, TReply>(this, parsed, NameFor(parsed, validated), validated, responder));
    }

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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (and not infinite).</exception>
    /// <exception cref="NoResponderException">No responder matches the topic and types (thrown at once), or every
    /// responder unsubscribed before the request reached it.</exception>
    /// <exception cref="TimeoutException">No reply arrived within the timeout.</exception>
    /// <exception cref="ItemDroppedException">Every responder's full mailbox dropped the request.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <remarks>When every responder fails, the exception of the first failure is thrown.</remarks>
    public Task<TReply> RequestAsync<TRequest, TReply>(string topic, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        TopicPattern.ValidateTopic(topic);
        var wait = timeout ?? Options.RequestTimeout;
        ValidateTimeout(wait, nameof(timeout));
        ThrowIfDisposed();
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TReply>(cancellationToken);
        }

        var targets = Route(topic, RuntimeType(request));
        var sink = new SingleReplySink<TReply>();
        var responders = CountResponders(targets, sink);
        if (responders == 0)
        {
            return Task.FromException<TReply>(new NoResponderException(topic));
        }

        sink.SetResponders(responders);
        sink.Arm(this, topic, wait, cancellationToken);
        var envelope = new Envelope<TRequest>(topic, request, NextMessageId(), Options.TimeProvider.GetUtcNow(), sink);
        OnPublished();
        var delivery = DeliverAsync(envelope, targets, cancellationToken);
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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="window"/> is zero or negative (and not infinite),
    /// or <paramref name="maxReplies"/> is less than one.</exception>
    /// <exception cref="NoResponderException">No responder matches the topic and types (thrown at once).</exception>
    /// <exception cref="ObjectDisposedException">The bus has been (or was, while waiting) disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<ScatterGatherResult<TReply>> ScatterGatherAsync<TRequest, TReply>(string topic, TRequest request, TimeSpan window, int maxReplies = int.MaxValue, CancellationToken cancellationToken = default)
    {
        TopicPattern.ValidateTopic(topic);
        ValidateTimeout(window, nameof(window));
        ArgumentOutOfRangeException.ThrowIfLessThan(maxReplies, 1);
        ThrowIfDisposed();
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
        var envelope = new Envelope<TRequest>(topic, request, NextMessageId(), Options.TimeProvider.GetUtcNow(), sink);
        OnPublished();
        await DeliverAsync(envelope, targets, cancellationToken).ConfigureAwait(false);
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
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative (and not infinite).</exception>
    /// <exception cref="TimeoutException">No such message arrived in time.</exception>
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
            new SubscriptionOptions { Name = $"wait-for:{pattern}", FullMode = QueueFullMode.DropOldest, MailboxCapacity = 64 });
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

    /// <summary>Reads the dead letters as they arrive, until the bus is disposed and the queue is empty.</summary>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The dead letters. Several concurrent readers share them (each goes to one reader).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async IAsyncEnumerable<DeadLetter> ReadDeadLettersAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _deadLetters.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var deadLetter))
            {
                yield return deadLetter;
            }
        }
    }

    /// <summary>Takes the oldest unread dead letter, if any, without waiting.</summary>
    /// <param name="deadLetter">The dead letter.</param>
    /// <returns><see langword="true"/> when one was taken.</returns>
    public bool TryReadDeadLetter([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DeadLetter? deadLetter) =>
        _deadLetters.Reader.TryRead(out deadLetter);

    /// <summary>Takes a snapshot of the bus's counters. Cheap: a short lock (no user code), a sum over the subscriptions.</summary>
    /// <returns>The snapshot.</returns>
    public CoordinationBusStatistics GetStatistics()
    {
        var active = Volatile.Read(ref _routing).All;
        var depth = 0;
        foreach (var subscription in active)
        {
            depth += subscription.MailboxDepth;
        }

        long delivered, handled;
        lock (_statisticsLock)
        {
            delivered = _retiredDelivered;
            handled = _retiredHandled;
            foreach (var subscription in _counted)
            {
                delivered += subscription.Received;
                handled += subscription.Handled;
            }
        }

        return new CoordinationBusStatistics(
            Interlocked.Read(ref _nextMessageId),
            delivered,
            handled,
            Interlocked.Read(ref _failed),
            Interlocked.Read(ref _dropped),
            Interlocked.Read(ref _deadLettered),
            Interlocked.Read(ref _deadLettersLost),
            active.Length,
            depth);
    }

    /// <summary>Stops intake, waits until every handler subscription has drained its mailbox (up to
    /// <see cref="CoordinationBusOptions.DrainTimeout"/>; then handlers are cancelled and the rest dropped with
    /// <see cref="DropReason.DrainTimeout"/>), then fails pending requests, barrier waits and waits with
    /// <see cref="ObjectDisposedException"/> and ends the dead-letter stream. Idempotent; later calls from outside the
    /// handlers return the same completion.</summary>
    /// <returns>A task that completes when the bus is drained (called from a handler of this bus: when the other
    /// subscriptions have drained, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from a handler.</b> A handler of this bus (or anything on its async flow) that awaits the bus's
    /// disposal would wait for its own subscription, whose mailbox cannot drain before the handler returns. Such a call
    /// is detected (through the marker each handler loop sets once) and behaves differently in one point only: it starts
    /// the disposal as usual (intake stops, every subscription drains, <see cref="CoordinationBusOptions.DrainTimeout"/>
    /// applies to all of them, the caller's included), but the task it returns completes once every other subscription
    /// has drained: it waits neither for the caller's own subscription nor for the subscriptions whose handlers made
    /// such a call too (so two handlers disposing the bus at once do not wait for each other). The caller's subscription
    /// handles the rest of its mailbox after the handler returns (see <see cref="Subscription.Completion"/>).</para>
    /// <para>Calls from outside the handlers (the first or later ones) return the full disposal: it completes only when
    /// every subscription, those whose handlers called <c>DisposeAsync</c> included, has drained.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var handler = Subscription.CurrentHandler;
        var fromHandler = handler is not null && ReferenceEquals(handler.Bus, this);
        TaskCompletionSource? created = null;
        Subscription[] all;
        Task task;
        lock (_registryLock)
        {
            if (_disposeTask is null)
            {
                created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

                // Under the lock, with the snapshot, so that a subscription cannot slip in after it (Add checks under the lock).
                Volatile.Write(ref _disposeTask, created.Task);
                _draining = _routing.All;
                Volatile.Write(ref _routing, new RoutingTable([]));
            }

            task = _disposeTask;
            all = _draining;
            if (fromHandler && (_selfDisposers ??= []).Add(handler!))
            {
                _selfDisposersChanged?.TrySetResult();
                _selfDisposersChanged = null;
            }
        }

        if (created is not null)
        {
            _ = DisposeCoreAsync(created, all);
        }

        return new ValueTask(fromHandler ? WaitForOtherSubscriptionsAsync(all) : task);
    }

        /// <inheritdoc/>
    public override string ToString() => $"CoordinationBus {Name}";

    internal static void CountEviction() => t_evictions++;

    internal void Unregister(Subscription subscription)
    {
        lock (_registryLock)
        {
            var all = _routing.All;
            var index = Array.IndexOf(all, subscription);
            if (index < 0)
            {
                return;
            }

            var remaining = new Subscription[all.Length - 1];
            Array.Copy(all, 0, remaining, 0, index);
            Array.Copy(all, index + 1, remaining, index, all.Length - index - 1);
            Volatile.Write(ref _routing, new RoutingTable(remaining));
        }
    }

    /// <summary>Moves a drained subscription's totals into the bus's retired totals.</summary>
    internal void Retire(Subscription subscription)
    {
        lock (_statisticsLock)
        {
            if (_counted.Remove(subscription))
            {
                _retiredDelivered += subscription.Received;
                _retiredHandled += subscription.Handled;
            }
        }
    }

    internal void OnDropped(Subscription subscription, Envelope envelope, DropReason reason)
    {
        Interlocked.Increment(ref _dropped);
        BusMetrics.RecordDropped(this, reason);
        if (Options.OnDropped is { } callback)
        {
            try
            {
                callback(new DroppedMessage(envelope.Topic, envelope.Id, envelope.BoxedMessage, subscription.Name, reason));
            }
            catch (Exception)
            {
                // Documented: a faulty callback must not break delivery to the other subscribers.
            }
        }
    }

    internal void OnHandlerFailed(Subscription subscription, Envelope envelope, Exception exception)
    {
        Interlocked.Increment(ref _failed);
        DeadLetter(envelope, DeadLetterReason.HandlerFailed, subscription.Name, exception);
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

    internal void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposeTask) is not null)
        {
            throw new ObjectDisposedException(nameof(CoordinationBus), $"The bus {Name} has been disposed.");
        }
    }

    private static async Task<bool> AsBoolTask(Task task)
    {
        await task.ConfigureAwait(false);
        return true;
    }

    private static Type RuntimeType<T>(T message) =>
        typeof(T).IsValueType || message is null ? typeof(T) : message.GetType();

    private static void ValidateTimeout(TimeSpan timeout, string paramName)
    {
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(paramName, timeout, $"{paramName} must be greater than zero or Timeout.InfiniteTimeSpan.");
        }
    }

    private static int CountResponders(Subscription[] targets, ReplySink sink)
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

    private long NextMessageId() => Interlocked.Increment(ref _nextMessageId);

    private void OnPublished() => BusMetrics.RecordPublished(this);

    private string NameFor(TopicPattern pattern, SubscriptionOptions options) =>
        options.Name ?? $"{pattern.Pattern}#{Interlocked.Increment(ref _nextSubscriptionNumber)}";

    private TSubscription Add<TSubscription>(TSubscription subscription)
        where TSubscription : Subscription
    {
        lock (_registryLock)
        {
            // Checked under the lock so that a subscription cannot slip in after DisposeAsync took its snapshot.
            ThrowIfDisposed();
            var all = _routing.All;
            var grown = new Subscription[all.Length + 1];
            Array.Copy(all, grown, all.Length);
            grown[^1] = subscription;
            Volatile.Write(ref _routing, new RoutingTable(grown));
            lock (_statisticsLock)
            {
                _counted.Add(subscription);
            }
        }

        subscription.Start();
        return subscription;
    }

    private Subscription[] Route(string topic, Type messageType)
    {
        var routing = Volatile.Read(ref _routing);

        // Publishers usually publish the same topic string instance again and again: a reference check skips hashing.
        if (routing.Last is { } last && ReferenceEquals(last.Topic, topic) && last.MessageType == messageType)
        {
            return last.Targets;
        }

        var key = new RouteKey(topic, messageType);
        if (routing.Routes.TryGetValue(key, out var cached))
        {
            return cached;
        }

        TopicPattern.ValidateTopic(topic);
        var matched = routing.Match(topic, messageType);
        if (routing.Routes.Count < MaxCachedRoutes)
        {
            routing.Routes.TryAdd(key, matched);
        }

        routing.Last = new LastRoute(topic, messageType, matched);

        return matched;
    }

    private ValueTask<PublishResult> DeliverAsync(Envelope envelope, Subscription[] targets, CancellationToken cancellationToken)
    {
        // Saved and restored: an OnDropped callback may publish from inside an eviction, nesting this method.
        var outerEvictions = t_evictions;
        t_evictions = 0;
        int delivered = 0, rejected = 0, waiting = 0, firstWaiting = -1;
        int[]? waitingIndices = null;
        for (var i = 0; i < targets.Length; i++)
        {
            switch (targets[i].TryEnqueue(envelope))
            {
                case EnqueueStatus.Accepted:
                    delivered++;
                    break;
                case EnqueueStatus.Rejected:
                    rejected++;
                    break;
                case EnqueueStatus.MustWait:
                    if (waiting == 0)
                    {
                        firstWaiting = i;
                    }
                    else
                    {
                        // Slow path only: more than one full Wait mailbox for this message.
                        waitingIndices ??= [firstWaiting, .. new int[targets.Length - 1]];
                        waitingIndices[waiting] = i;
                    }

                    waiting++;
                    break;
            }
        }

        var evicted = t_evictions;
        t_evictions = outerEvictions;
        if (waiting == 0)
        {
            return new ValueTask<PublishResult>(Complete(envelope, targets.Length, delivered, rejected, evicted));
        }

        return DeliverToFullMailboxesAsync(envelope, targets, waitingIndices, firstWaiting, waiting, delivered, rejected, evicted, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PublishResult> DeliverToFullMailboxesAsync(Envelope envelope, Subscription[] targets, int[]? waitingIndices, int firstWaiting, int waiting, int delivered, int rejected, int evicted, CancellationToken cancellationToken)
    {
        for (var n = 0; n < waiting; n++)
        {
            var target = targets[waitingIndices is null ? firstWaiting : waitingIndices[n]];
            if (await target.EnqueueWaitingAsync(envelope, cancellationToken).ConfigureAwait(false) == EnqueueStatus.Accepted)
            {
                delivered++;
            }
        }

        return Complete(envelope, targets.Length, delivered, rejected, evicted);
    }

    private PublishResult Complete(Envelope envelope, int matched, int delivered, int rejected, int evicted)
    {
        if (delivered == 0 && rejected == 0)
        {
            // Every matched subscription unsubscribed between routing and delivery.
            DeadLetter(envelope, DeadLetterReason.NoSubscribers, null, null);
        }

        return new PublishResult(envelope.Id, matched, delivered, rejected, evicted);
    }

    private void DeadLetter(Envelope envelope, DeadLetterReason reason, string? subscriptionName, Exception? exception)
    {
        Interlocked.Increment(ref _deadLettered);
        BusMetrics.RecordDeadLettered(this, reason);
        var deadLetter = new DeadLetter(envelope.Topic, envelope.Id, envelope.BoxedMessage, reason, subscriptionName, exception, Options.TimeProvider.GetUtcNow());
        _deadLetters.Writer.TryWrite(deadLetter);
        if (Options.OnDeadLetter is { } callback)
        {
            try
            {
                callback(deadLetter);
            }
            catch (Exception)
            {
                // Documented: a faulty callback must not break the handler loop that reported the dead letter.
            }
        }
    }

    private async Task DisposeCoreAsync(TaskCompletionSource completion, Subscription[] all)
    {
        try
        {
            foreach (var subscription in all)
            {
                subscription.Close();
            }

            var drains = new List<Task>(all.Length);
            foreach (var subscription in all)
            {
                if (subscription.DrainsOnDispose)
                {
                    drains.Add(subscription.DrainWithDeadlineAsync());
                }
            }

            await Task.WhenAll(drains).ConfigureAwait(false);
        }
        finally
        {
            _disposed.Cancel();
            _deadLetters.Writer.TryComplete();
            BusMetrics.Unregister(this);
            completion.TrySetResult();
        }
    }

    /// <summary>What a DisposeAsync called from a handler returns: the drain of every subscription except those whose
    /// handlers called it (the caller's own cannot drain before the handler returns).</summary>
    private async Task WaitForOtherSubscriptionsAsync(Subscription[] all)
    {
        while (true)
        {
            Task? pending = null;
            Task changed;
            lock (_registryLock)
            {
                foreach (var subscription in all)
                {
                    if (subscription.DrainsOnDispose && !subscription.Completion.IsCompleted && !_selfDisposers!.Contains(subscription))
                    {
                        pending = subscription.Completion;
                        break;
                    }
                }

                changed = (_selfDisposersChanged ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            if (pending is null)
            {
                return;
            }

            // Another handler joining the callers may be the one this waits for: look again then.
            await Task.WhenAny(pending, changed).ConfigureAwait(false);
        }
    }

    /// <summary>An immutable snapshot of the subscriptions and the routes computed from them. Replaced as a whole when a
    /// subscription is added or removed, so that a route is never computed from one snapshot and cached in another.</summary>
    private sealed class RoutingTable
    {
        public RoutingTable(Subscription[] all)
        {
            All = all;
        }

        public Subscription[] All { get; }

        public ConcurrentDictionary<RouteKey, Subscription[]> Routes { get; } = new();

        /// <summary>The route computed last; read and written without a lock (a reference write is atomic).</summary>
        public LastRoute? Last { get; set; }

        public Subscription[] Match(string topic, Type messageType)
        {
            List<Subscription>? matched = null;
            foreach (var subscription in All)
            {
                if (subscription.Accepts(messageType) && subscription.Pattern.IsMatch(topic))
                {
                    (matched ??= []).Add(subscription);
                }
            }

            return matched is null ? [] : [.. matched];
        }
    }

    private readonly record struct RouteKey(string Topic, Type MessageType);

    private sealed record LastRoute(string Topic, Type MessageType, Subscription[] Targets);
}
