using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>Publishing: routing a message to the matching subscriptions and offering it to their mailboxes.</summary>
public sealed partial class CoordinationBus
{
    // Route caches are capped so that a stream of ever-new topics cannot grow memory without bound; past the cap,
    // uncached topics are matched against every subscription on each publish.
    private const int MaxCachedRoutes = 4096;

    [ThreadStatic]
    private static int t_evictions;

    /// <summary>Publishes a message to a topic.</summary>
    /// <typeparam name="T">The message type; subscriptions of this type or a base type receive it.</typeparam>
    /// <param name="topic">The topic: dot-separated, non-empty segments, no wildcards.</param>
    /// <param name="message">The message.</param>
    /// <param name="cancellationToken">Cancels waiting for room in full <see cref="QueueFullMode.Wait"/> mailboxes.</param>
    /// <returns>How many subscribers matched, accepted, rejected the message, and how many older messages were dropped
    /// for it. Completes synchronously unless a matching <see cref="QueueFullMode.Wait"/> mailbox is full.</returns>
    /// <remarks>
    /// The message is first offered to every matching mailbox without waiting. Full <see cref="QueueFullMode.Wait"/>
    /// mailboxes are then awaited one by one; meanwhile the subscribers that took the message are already handling it.
    /// A message nobody matched goes to the dead letters (<see cref="DeadLetterReason.NoSubscribers"/>). A wait for room
    /// that <paramref name="cancellationToken"/> cancels is reported to <see cref="CoordinationBusOptions.OnDropped"/>
    /// (<see cref="DropReason.Cancelled"/>) for that subscriber.
    /// </remarks>
    /// <exception cref="ArgumentNullException"><paramref name="topic"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is not a valid topic (empty segment, wildcard).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the
    /// message was offered, or while waiting for room (subscribers that already took it keep it).</exception>
    public ValueTask<PublishResult> PublishAsync<T>(string topic, T message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(topic);
        ThrowIfNotOpen();
        cancellationToken.ThrowIfCancellationRequested();

        // Route validates the topic when it is not cached yet; a cached route proves the topic valid.
        var targets = Route(topic, RuntimeType(message));
        var envelope = CreateEnvelope(topic, message, reply: null, out var span);
        if (targets.Length == 0)
        {
            DeadLetter(envelope, DeadLetterReason.NoSubscribers, null, null);
            span?.Stop();
            return new ValueTask<PublishResult>(new PublishResult(envelope.Id, 0, 0, 0, 0));
        }

        return DeliverAsync(envelope, targets, span, cancellationToken);
    }

    internal static void CountEviction() => t_evictions++;

    /// <summary>Starts counting the evictions of one write on this thread; returns the count of an enclosing write (an
    /// OnDropped callback may publish from inside an eviction, nesting writes), to give back to <see cref="EndEvictionCount"/>.</summary>
    internal static int BeginEvictionCount()
    {
        var outer = t_evictions;
        t_evictions = 0;
        return outer;
    }

    /// <summary>Ends the count <see cref="BeginEvictionCount"/> started and restores the enclosing write's count.</summary>
    internal static int EndEvictionCount(int outer)
    {
        var evicted = t_evictions;
        t_evictions = outer;
        return evicted;
    }

    /// <summary>Throws when publishing has stopped: <see cref="InvalidOperationException"/> after <see cref="Complete"/>,
    /// <see cref="ObjectDisposedException"/> after <see cref="DisposeAsync"/>.</summary>
    /// <remarks>Read without the lock on the publish path: a publish racing <see cref="Complete"/> either throws or finds
    /// the mailboxes closed (the message then goes to the dead letters), both correct.</remarks>
    internal void ThrowIfNotOpen()
    {
        if (!_lifecycle.IsOpen)
        {
            _lifecycle.ThrowIfNotOpen(Name);
        }
    }

    /// <summary>Throws once disposal has begun (barrier waits go on after <see cref="Complete"/>, until disposal).</summary>
    internal void ThrowIfDisposed()
    {
        if (_lifecycle.IsDisposing)
        {
            throw _lifecycle.CreateClosedException(Name);
        }
    }

    private static Type RuntimeType<T>(T message) =>
        typeof(T).IsValueType || message is null ? typeof(T) : message.GetType();

    /// <summary>Numbers the message and wraps it. Only when someone listens does it start the publish span and carry
    /// the publisher's context and a timestamp for the deliveries; otherwise it costs what it always did.</summary>
    private Envelope<T> CreateEnvelope<T>(string topic, T message, IReplySink? reply, out Activity? span)
    {
        var id = Interlocked.Increment(ref _nextMessageId.Value);
        var publishedAt = Options.TimeProvider.GetUtcNow();
        Telemetry.Published();
        if (!Telemetry.ObservesDeliveries)
        {
            span = null;
            return new Envelope<T>(topic, message, id, publishedAt, reply);
        }

        // Current until the fan-out ends, so that drop events land on it; DeliverAsync gives the caller its own back.
        span = Telemetry.StartSpan(BusTelemetry.PublishSpan, topic, default, ActivityKind.Producer);
        var context = span?.Context ?? Activity.Current?.Context ?? default;
        var timestamp = Telemetry.Instruments.WaitDuration.Enabled ? Options.TimeProvider.GetTimestamp() : 0;
        return new ObservedEnvelope<T>(topic, message, id, publishedAt, reply, context, timestamp);
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

    private ValueTask<PublishResult> DeliverAsync(Envelope envelope, Subscription[] targets, Activity? span, CancellationToken cancellationToken)
    {
        // Evictions are counted by the Drop-mode mailboxes themselves, so a publish to Wait or Reject mailboxes (the
        // common case) touches no thread-static state.
        int accepted = 0, rejected = 0, waiting = 0, firstWaiting = -1, dropped = 0;
        int[]? waitingIndices = null;
        for (var i = 0; i < targets.Length; i++)
        {
            switch (targets[i].TryEnqueue(envelope, ref dropped))
            {
                case EnqueueStatus.Accepted:
                    accepted++;
                    break;
                case EnqueueStatus.Rejected:
                    rejected++;
                    break;
                case EnqueueStatus.QueueFull:
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

        if (waiting == 0)
        {
            var result = Conclude(envelope, targets.Length, accepted, rejected, dropped);
            span?.Stop();
            return new ValueTask<PublishResult>(result);
        }

        var pending = DeliverToFullMailboxesAsync(envelope, targets, waitingIndices, firstWaiting, waiting, accepted, rejected, dropped, span, cancellationToken);
        if (span is not null)
        {
            // The wait goes on with the span as its current activity; the publisher gets back the activity it had
            // (the span's parent, since the span was started under it).
            Activity.Current = span.Parent;
        }

        return pending;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<PublishResult> DeliverToFullMailboxesAsync(Envelope envelope, Subscription[] targets, int[]? waitingIndices, int firstWaiting, int waiting, int accepted, int rejected, int dropped, Activity? span, CancellationToken cancellationToken)
    {
        try
        {
            for (var n = 0; n < waiting; n++)
            {
                var target = targets[waitingIndices is null ? firstWaiting : waitingIndices[n]];
                if (await target.EnqueueWaitingAsync(envelope, cancellationToken).ConfigureAwait(false) == EnqueueStatus.Accepted)
                {
                    accepted++;
                }
            }

            return Conclude(envelope, targets.Length, accepted, rejected, dropped);
        }
        finally
        {
            span?.Stop();
        }
    }

    private PublishResult Conclude(Envelope envelope, int matched, int accepted, int rejected, int dropped)
    {
        if (accepted == 0 && rejected == 0)
        {
            // Every matched subscription unsubscribed between routing and delivery.
            DeadLetter(envelope, DeadLetterReason.NoSubscribers, null, null);
        }

        return new PublishResult(envelope.Id, matched, accepted, rejected, dropped);
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
