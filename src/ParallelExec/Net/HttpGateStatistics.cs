namespace ParallelExec.Net;

/// <summary>A snapshot of an <see cref="HttpGate"/>, taken by <see cref="HttpGate.GetStatistics"/>.</summary>
/// <remarks>
/// The <see cref="ComponentStatistics.Ledger"/> counts calls: a call is queued while it waits for admission, in flight
/// from then until it ends (retries included), and ends once, whatever its attempts were. The extras count attempts:
/// <see cref="Admitted"/> counts a retried call again.
/// </remarks>
public sealed class HttpGateStatistics : ComponentStatistics
{
    internal HttpGateStatistics(string name, LedgerSnapshot ledger, long admitted, long throttled, int peakInFlight, IReadOnlyDictionary<string, ProviderStatistics> providers)
        : base(name, ledger)
    {
        Admitted = admitted;
        Throttled = throttled;
        PeakInFlight = peakInFlight;
        Providers = providers;
    }

    /// <summary>Gets how many attempts have been admitted (a retried call counts again).</summary>
    public long Admitted { get; }

    /// <summary>Gets how many throttling answers (429, or 503 with <c>Retry-After</c>) were seen.</summary>
    public long Throttled { get; }

    /// <summary>Gets the most attempts that have held a concurrency permit at once (at most <see cref="HttpGateOptions.MaxDegreeOfParallelism"/>).</summary>
    public int PeakInFlight { get; }

    /// <summary>Gets the snapshot of every provider the gate has seen, by name.</summary>
    public IReadOnlyDictionary<string, ProviderStatistics> Providers { get; }
}
