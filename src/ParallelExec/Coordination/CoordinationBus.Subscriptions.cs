namespace ParallelExec.Coordination;

/// <summary>Subscribing: handlers, streams and responders, each with its own mailbox, added to and removed from the routing table.</summary>
public sealed partial class CoordinationBus
{
    /// <summary>Subscribes a handler to a topic pattern, with the bus's default mailbox (<see cref="CoordinationBusOptions.QueueCapacity"/>).</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message; an exception sends it to the dead letters.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Subscribe<T>(string pattern, Func<BusMessage<T>, CancellationToken, ValueTask> handler) => Subscribe(pattern, handler, null);

    /// <summary>Subscribes a synchronous handler to a topic pattern, with the bus's default mailbox (<see cref="CoordinationBusOptions.QueueCapacity"/>).</summary>
    /// <typeparam name="T">The message type to receive.</typeparam>
    /// <param name="pattern">The topic pattern (see <see cref="TopicPattern"/>).</param>
    /// <param name="handler">Handles one message; an exception sends it to the dead letters.</param>
    /// <returns>The subscription; dispose it to unsubscribe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pattern"/> or <paramref name="handler"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is invalid.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been disposed.</exception>
    public Subscription Respond<TRequest, TReply>(string pattern, Func<BusMessage<TRequest>, CancellationToken, ValueTask<TReply>> responder, SubscriptionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(responder);
        var parsed = TopicPattern.Parse(pattern);
        var validated = (options ?? new SubscriptionOptions()).Validate();
        return Add(new ResponderSubscription<TRequest, TReply>(this, parsed, NameFor(parsed, validated), validated, responder));
    }

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
            AssertInvariants();
        }
    }

    private string NameFor(TopicPattern pattern, SubscriptionOptions options) =>
        options.Name ?? $"{pattern.Pattern}#{Interlocked.Increment(ref _nextSubscriptionNumber)}";

    private TSubscription Add<TSubscription>(TSubscription subscription)
        where TSubscription : Subscription
    {
        lock (_registryLock)
        {
            // Checked under the lock so that a subscription cannot slip in after Complete or DisposeAsync took its snapshot.
            ThrowIfNotOpen();
            var all = _routing.All;
            var grown = new Subscription[all.Length + 1];
            Array.Copy(all, grown, all.Length);
            grown[^1] = subscription;
            Volatile.Write(ref _routing, new RoutingTable(grown));
            lock (_statisticsLock)
            {
                _counted.Add(subscription);
            }

            AssertInvariants();
        }

        subscription.Start();
        return subscription;
    }
}
