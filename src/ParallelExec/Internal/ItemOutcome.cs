namespace ParallelExec.Internal;

/// <summary>How an item that ran ended.</summary>
internal enum ItemOutcome
{
    /// <summary>Its work returned.</summary>
    Succeeded,

    /// <summary>Its work threw.</summary>
    Failed,

    /// <summary>It was cancelled while running.</summary>
    Cancelled,
}
