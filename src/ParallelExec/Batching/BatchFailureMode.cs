namespace ParallelExec.Batching;

/// <summary>
/// What a <see cref="BatchProcessor{TItem, TResult}"/> does when its bulk handler throws for a batch.
/// </summary>
public enum BatchFailureMode
{
    /// <summary>Every item of the batch fails with the handler's exception. One handler call per batch, whatever happens.</summary>
    FailAll = 0,

    /// <summary>
    /// The batch is split in halves and each half is retried, recursively, down to single items, so that only the
    /// item(s) that make the handler throw (the "poison" items) fail and every other item gets its result. Finding one
    /// poison item among <c>n</c> costs about <c>2·log2(n)</c> extra handler calls.
    /// </summary>
    Bisect = 1,
}
