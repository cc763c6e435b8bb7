namespace ParallelExec.Net;

/// <summary>A snapshot of an <see cref="HttpGate"/>, taken by <see cref="HttpGate.GetStatistics"/>.</summary>
public sealed class HttpGateStatistics
{
    internal HttpGateStatistics(IReadOnlyDictionary<string, ProviderStatistics> providers)
    {
        Providers = providers;
    }

    /// <summary>Gets how many calls wait for admission (including calls waiting for room in a full queue).</summary>
    public int Waiting { get; internal init; }

    /// <summary>Gets how many calls are running.</summary>
    public int InFlight { get; internal init; }

    /// <summary>Gets how many calls have been admitted (retries count again).</summary>
    public long Admitted { get; internal init; }

    /// <summary>Gets how many calls the full wait queue dropped or rejected.</summary>
    public long Dropped { get; internal init; }

    /// <summary>Gets how many throttling answers (429, or 503 with <c>Retry-After</c>) were seen.</summary>
    public long Throttled { get; internal init; }

    /// <summary>Gets the most calls that have been in flight at once.</summary>
    public int PeakInFlight { get; internal init; }

    /// <summary>Gets the snapshot of every provider the gate has seen, by name.</summary>
    public IReadOnlyDictionary<string, ProviderStatistics> Providers { get; }
}
