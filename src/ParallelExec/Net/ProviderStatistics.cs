namespace ParallelExec.Net;

/// <summary>A snapshot of one provider's partition of an <see cref="HttpGate"/>.</summary>
public sealed class ProviderStatistics
{
    internal ProviderStatistics(string provider)
    {
        Provider = provider;
    }

    /// <summary>Gets the provider's name.</summary>
    public string Provider { get; }

    /// <summary>Gets how many of the provider's calls wait for admission.</summary>
    public int Waiting { get; internal init; }

    /// <summary>Gets how many of the provider's calls are running.</summary>
    public int InFlight { get; internal init; }

    /// <summary>Gets how many of the provider's calls have been admitted (retries count again).</summary>
    public long Admitted { get; internal init; }

    /// <summary>Gets how many of the provider's calls the full wait queue refused or evicted, or the drain timeout cut.</summary>
    public long Dropped { get; internal init; }

    /// <summary>Gets how many throttling answers (429, or 503 with <c>Retry-After</c>) the provider gave.</summary>
    public long Throttled { get; internal init; }

    /// <summary>Gets the total time the provider has been paused by throttling answers.</summary>
    public TimeSpan TotalPauseTime { get; internal init; }

    /// <summary>Gets how long the current pause still lasts, or <see cref="TimeSpan.Zero"/> when the provider is not paused.</summary>
    public TimeSpan RemainingPause { get; internal init; }

    /// <summary>Gets how many more calls may start now within the request window, or <see langword="null"/> without a request limit.</summary>
    public long? AvailableRequests { get; internal init; }

    /// <summary>Gets how much more weight may start now within the weight window, or <see langword="null"/> without a weight limit.</summary>
    public long? AvailableWeight { get; internal init; }
}
