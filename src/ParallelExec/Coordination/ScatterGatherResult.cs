namespace ParallelExec.Coordination;

/// <summary>
/// The replies a scatter-gather request collected.
/// </summary>
/// <typeparam name="TReply">The reply type.</typeparam>
public sealed class ScatterGatherResult<TReply>
{
    internal ScatterGatherResult(IReadOnlyList<TReply> replies, IReadOnlyList<Exception> failures, int responders, bool windowElapsed)
    {
        Replies = replies;
        Failures = failures;
        Responders = responders;
        WindowElapsed = windowElapsed;
    }

    /// <summary>Gets the replies, in the order they arrived.</summary>
    public IReadOnlyList<TReply> Replies { get; }

    /// <summary>Gets the exceptions of responders whose handler failed, or whose mailbox dropped the request
    /// (<see cref="ItemDroppedException"/>).</summary>
    public IReadOnlyList<Exception> Failures { get; }

    /// <summary>Gets how many responders the request was sent to.</summary>
    public int Responders { get; }

    /// <summary>Gets a value indicating whether the window ended before every responder answered and before the wanted
    /// number of replies arrived.</summary>
    public bool WindowElapsed { get; }
}
