namespace ParallelExec.Coordination;

/// <summary>
/// Why a message went to the dead letters.
/// </summary>
public enum DeadLetterReason
{
    /// <summary>No subscription matched the message's topic and type when it was published.</summary>
    NoSubscribers = 0,

    /// <summary>A subscriber's handler threw (after the resilience pipeline, if any, gave up).</summary>
    HandlerFailed = 1,
}
