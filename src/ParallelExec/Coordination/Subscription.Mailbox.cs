using System.Threading.Channels;
using ParallelExec.Internal;

namespace ParallelExec.Coordination;

/// <summary>The mailbox side of a subscription: publishers offer messages, the full mode decides, drops are reported.</summary>
public abstract partial class Subscription
{
    /// <summary>Offers a message without waiting; adds to <paramref name="evicted"/> the older messages a Drop-mode
    /// mailbox evicted for it.</summary>
    internal EnqueueStatus TryEnqueue(Envelope envelope, ref int evicted)
    {
        // Counted before the write: once written, a handler may end the delivery at once.
        Interlocked.Increment(ref _received.Value);
        bool written;
        if (_evicts)
        {
            // The channel evicts inside TryWrite, through OnEvicted, on this thread.
            var outer = CoordinationBus.BeginEvictionCount();
            written = _mailbox.Writer.TryWrite(envelope);
            evicted += CoordinationBus.EndEvictionCount(outer);
        }
        else
        {
            written = _mailbox.Writer.TryWrite(envelope);
        }

        if (written)
        {
            Bus.Telemetry.Submitted();
            return EnqueueStatus.Accepted;
        }

        Interlocked.Decrement(ref _received.Value);

        // Close() sets _closed before completing the writer, so a write that failed because of completion sees it.
        if (_closed)
        {
            OnClosedBeforeDelivery(envelope);
            return EnqueueStatus.Closed;
        }

        // The channel evicts by itself in the Drop modes (OnEvicted), so a refused write means a full Wait or Reject
        // mailbox: the library's one full-mode decision says which.
        if (AdmissionPolicy.Decide(QueueCapacity, QueueCapacity, FullMode) == Admission.Wait && !IsCurrentHandler)
        {
            return EnqueueStatus.QueueFull;
        }

        // Reject mode, or a handler publishing into its own full Wait mailbox, which would wait for itself forever.
        CountRejected();
        Bus.Telemetry.Submitted();
        ReportDrop(envelope, DropReason.Rejected);
        return EnqueueStatus.Rejected;
    }

    /// <summary>Offers a message to a full <see cref="QueueFullMode.Wait"/> mailbox, waiting for room.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<EnqueueStatus> EnqueueWaitingAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        // A waiting publisher is counted received (before the write, as in TryEnqueue) and queued until it gets room.
        ItemLedger.IncrementAtomic(ref _rare.Queued);
        Interlocked.Increment(ref _received.Value);
        bool written;
        try
        {
            // Not ChannelWriter.WriteAsync: a cancellation racing its registration could both write the message and
            // throw (see ChannelWrite), ending one delivery twice.
            written = await ChannelWrite.WriteAsync(_mailbox.Writer, envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            written = false;
        }
        catch (OperationCanceledException)
        {
            // The publisher gets the exception; this subscriber's copy is reported once, as cancelled while queued.
            Interlocked.Decrement(ref _received.Value);
            ItemLedger.DecrementAtomic(ref _rare.Queued);
            CountCancelledWait();
            Bus.Telemetry.Submitted();
            ReportDrop(envelope, DropReason.Cancelled);
            throw;
        }

        if (!written)
        {
            Interlocked.Decrement(ref _received.Value);
            ItemLedger.DecrementAtomic(ref _rare.Queued);
            OnClosedBeforeDelivery(envelope);
            return EnqueueStatus.Closed;
        }

        ItemLedger.DecrementAtomic(ref _rare.Queued);
        Bus.Telemetry.Submitted();
        return EnqueueStatus.Accepted;
    }

    /// <summary>Stops intake. Safe to call more than once.</summary>
    internal void Close()
    {
        _closed = true;
        _mailbox.Writer.TryComplete();
    }

    private protected bool TryRead(out Envelope envelope) => _mailbox.Reader.TryRead(out envelope!);

    private protected ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _mailbox.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>For stream subscriptions: the mailbox is drained when the reader has read it to the end.</summary>
    /// <remarks>Cannot fault: the reader's completion faults only when the writer completes with an exception, which
    /// <see cref="Close"/> never passes; CompleteWhenDone catches regardless.</remarks>
    private protected void CompleteWhenReaderDone() => _ = CompleteWhenDone(_mailbox.Reader.Completion);

    private Channel<Envelope> CreateMailbox()
    {
        var channelOptions = new BoundedChannelOptions(QueueCapacity)
        {
            FullMode = FullMode switch
            {
                QueueFullMode.DropOldest => BoundedChannelFullMode.DropOldest,
                QueueFullMode.DropNewest => BoundedChannelFullMode.DropNewest,

                // Reject is TryWrite refusing in Wait mode.
                _ => BoundedChannelFullMode.Wait,
            },
            SingleReader = MaxDegreeOfParallelism == 1,
            SingleWriter = false,
            AllowSynchronousContinuations = false,
        };
        return FullMode is QueueFullMode.DropOldest or QueueFullMode.DropNewest
            ? Channel.CreateBounded<Envelope>(channelOptions, OnEvicted)
            : Channel.CreateBounded<Envelope>(channelOptions);
    }

    /// <summary>The channel evicted a queued message to make room (it was received earlier, so it ends as dropped).</summary>
    private void OnEvicted(Envelope envelope)
    {
        CoordinationBus.CountEviction();
        CountEvicted();
        ReportDrop(envelope, AdmissionPolicy.ToDropReason(FullMode == QueueFullMode.DropOldest ? Admission.EvictOldest : Admission.EvictNewest));
    }

    /// <summary>Reports one delivery that will not reach the handler (the caller has counted it) and fails its request, if any.</summary>
    private void ReportDrop(Envelope envelope, DropReason reason)
    {
        Bus.Telemetry.Reporter.Dropped(reason, envelope.BoxedMessage, envelope.Topic);
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
}
