namespace ParallelExec.Net;

/// <summary>A snapshot of a <see cref="RequestCoalescer{TItem, TResult}"/>, taken by its <c>GetStatistics()</c>.</summary>
/// <remarks>
/// The <see cref="ComponentStatistics.Ledger"/> counts the single calls handed to the coalescer; the extras count the bulk
/// calls made for them (each one admitted through the gate, whose own statistics count it as one call).
/// </remarks>
public sealed class RequestCoalescerStatistics : ComponentStatistics
{
    internal RequestCoalescerStatistics(string name, LedgerSnapshot ledger, string provider, long batches, long bulkCalls)
        : base(name, ledger)
    {
        Provider = provider;
        Batches = batches;
        BulkCalls = bulkCalls;
    }

    /// <summary>Gets the provider whose limits the bulk calls count against.</summary>
    public string Provider { get; }

    /// <summary>Gets how many batches have been sent.</summary>
    public long Batches { get; }

    /// <summary>Gets how many bulk calls have been made: one per batch, more where a failed batch was bisected.</summary>
    public long BulkCalls { get; }
}
