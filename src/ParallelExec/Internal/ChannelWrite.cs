using System.Threading.Channels;

namespace ParallelExec.Internal;

/// <summary>
/// Writes an item into a bounded channel of ours, waiting for room, with an outcome that is never ambiguous: either the
/// item was written, or it was not and the wait was cancelled (or the channel closed).
/// </summary>
/// <remarks>
/// Why not <see cref="ChannelWriter{T}.WriteAsync"/> with a token: a token cancelled while the blocked write registers
/// for cancellation can complete the write as cancelled and still let a reader take its item (the race fixed in
/// dotnet/runtime#132230, August 2026; the 10.0.12 runtime this suite ran on still showed it). The caller then reports
/// an item cancelled that a reader handles — one item, two endings; the bus's stress test found it. Here only <see cref="ChannelWriter{T}.TryWrite"/> writes: a wait
/// that is cancelled has written nothing. The cost is fairness among writers waiting on the same channel (the first to
/// retry after room appears wins, not the first to wait), which a bounded channel did not promise to callers anyway.
/// </remarks>
internal static class ChannelWrite
{
    /// <summary>Writes <paramref name="item"/>, waiting for room.</summary>
    /// <returns><see langword="true"/> when written; <see langword="false"/> when the channel was completed first.</returns>
    /// <exception cref="OperationCanceledException">The wait was cancelled; the item was not written.</exception>
    public static async ValueTask<bool> WriteAsync<T>(ChannelWriter<T> writer, T item, CancellationToken cancellationToken)
    {
        while (!writer.TryWrite(item))
        {
            if (!await writer.WaitToWriteAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }
        }

        return true;
    }
}
