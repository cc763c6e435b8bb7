using System.Runtime.CompilerServices;

namespace ParallelExec.Coordination;

/// <summary>Dead letters: messages nobody handled (no subscriber, or a failed handler), kept in a bounded queue to read.</summary>
public sealed partial class CoordinationBus
{
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

    internal void OnHandlerFailed(Subscription subscription, Envelope envelope, Exception exception)
    {
        DeadLetter(envelope, DeadLetterReason.HandlerFailed, subscription.Name, exception);
    }

    private void DeadLetter(Envelope envelope, DeadLetterReason reason, string? subscriptionName, Exception? exception)
    {
        Interlocked.Increment(ref _deadLettered);
        Telemetry.CountDeadLetter(reason);
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
}
