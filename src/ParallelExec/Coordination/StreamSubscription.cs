using System.Runtime.CompilerServices;

namespace ParallelExec.Coordination;

/// <summary>
/// A subscription read as an <see cref="IAsyncEnumerable{T}"/> instead of through a handler: <c>await foreach</c> over
/// it yields the messages in mailbox order. Dispose it to unsubscribe; an enumeration then ends after the messages
/// already queued.
/// </summary>
/// <typeparam name="T">The message type.</typeparam>
/// <remarks>
/// The mailbox is bounded like any other (<see cref="SubscriptionOptions.QueueCapacity"/>,
/// <see cref="SubscriptionOptions.FullMode"/>): a stream nobody reads fills up and then applies its full mode. Several
/// concurrent enumerations share the mailbox (each message goes to one of them). Disposing the bus or the subscription
/// does not wait for a stream to be read: its queued messages stay readable.
/// </remarks>
public sealed class StreamSubscription<T> : Subscription, IAsyncEnumerable<BusMessage<T>>
{
    internal StreamSubscription(CoordinationBus bus, TopicPattern pattern, string name, SubscriptionOptions options)
        : base(bus, pattern, typeof(T), name, options)
    {
    }

    /// <summary>Takes the next queued message, if there is one, without waiting.</summary>
    /// <param name="message">The message.</param>
    /// <returns><see langword="true"/> when a message was taken.</returns>
    public bool TryRead(out BusMessage<T> message)
    {
        if (TryRead(out Envelope envelope))
        {
            OnRead();
            message = envelope.ToBusMessage<T>();
            return true;
        }

        message = default;
        return false;
    }

    /// <summary>Enumerates the messages as they arrive, until the subscription is disposed and its mailbox is empty.</summary>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>); queued
    /// messages stay in the mailbox.</param>
    /// <returns>The enumerator.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async IAsyncEnumerator<BusMessage<T>> GetAsyncEnumerator(CancellationToken cancellationToken = default)
    {
        await foreach (var message in ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            yield return message;
        }
    }

    /// <summary>Enumerates the messages as they arrive, until the subscription is disposed and its mailbox is empty.</summary>
    /// <param name="cancellationToken">Ends the enumeration (with <see cref="OperationCanceledException"/>).</param>
    /// <returns>The messages.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async IAsyncEnumerable<BusMessage<T>> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        // WaitToReadAsync + TryRead: the read pattern that loses no item under cancellation.
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (TryRead(out BusMessage<T> message))
            {
                yield return message;
            }
        }
    }

    internal override bool DrainsOnDispose => false;

    internal override void Start() => CompleteWhenReaderDone();

    internal override ValueTask InvokeAsync(Envelope envelope, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("A stream subscription has no handler.");

    internal override void Abandon()
    {
        // Nothing to cancel: the reader owns the pace, and queued messages stay readable.
    }
}
