using Polly;

namespace ParallelExec.Net;

/// <summary>
/// Settings of an <see cref="HttpGate"/>: its concurrency, its wait queue, the limits of each provider, the shared
/// client and the resilience pipeline calls are retried through.
/// </summary>
/// <remarks>The gate copies these options when it is built; later changes to this object do not affect it.</remarks>
public sealed class HttpGateOptions
{
    /// <summary>Gets or sets the name that tags this gate's metrics.</summary>
    /// <value><c>"http"</c>.</value>
    public string Name { get; set; } = "http";

    /// <summary>Gets or sets the most calls in flight at once, over every provider.</summary>
    /// <value>32. Must be greater than zero.</value>
    public int MaxConcurrency { get; set; } = 32;

    /// <summary>Gets or sets how many calls may wait for admission, over every provider.</summary>
    /// <value>1024. Must be greater than zero.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what a call does when the wait queue is full.</summary>
    /// <value><see cref="QueueFullMode.Wait"/>: the call waits for room (or for its token).</value>
    public QueueFullMode QueueFullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>Gets the limits of each named provider. A provider not listed gets <see cref="DefaultLimits"/>.</summary>
    public IDictionary<string, ProviderLimits> Providers { get; } = new Dictionary<string, ProviderLimits>(StringComparer.Ordinal);

    /// <summary>Gets or sets the limits of providers not listed in <see cref="Providers"/>.</summary>
    /// <value>No request or weight limit (only <see cref="MaxConcurrency"/> applies).</value>
    public ProviderLimits DefaultLimits { get; set; } = new();

    /// <summary>
    /// Gets or sets how long a provider is paused after a 429 response that carries no <c>Retry-After</c> header.
    /// </summary>
    /// <value>One second. Must be greater than zero.</value>
    public TimeSpan DefaultThrottlePause { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Gets or sets the longest pause a <c>Retry-After</c> header may impose.</summary>
    /// <value>Five minutes. Must be greater than zero.</value>
    public TimeSpan MaxThrottlePause { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Gets or sets the pipeline every call runs through, admission included. A retry strategy that handles
    /// <see cref="ProviderThrottledException"/> retries throttled calls: the retry waits in the gate until the provider's
    /// pause ends, so its own delay can be zero (see <see cref="HttpGate.CreateThrottleRetryPipeline"/>).
    /// </summary>
    /// <value><see langword="null"/>: a throttled call fails with <see cref="ProviderThrottledException"/>.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets the shared client <see cref="HttpGate.SendAsync"/> uses. The gate does not dispose a client it was
    /// given.
    /// </summary>
    /// <value><see langword="null"/>: the gate builds one with <see cref="PooledHttpClient"/> from
    /// <see cref="ClientOptions"/>, its per-server connection cap set to <see cref="MaxConcurrency"/>, and disposes it.</value>
    public HttpClient? HttpClient { get; set; }

    /// <summary>Gets or sets the settings of the client the gate builds when <see cref="HttpClient"/> is not set.</summary>
    /// <value>The defaults of <see cref="PooledHttpClientOptions"/>; <see cref="PooledHttpClientOptions.MaxConnectionsPerServer"/> is replaced by <see cref="MaxConcurrency"/>.</value>
    public PooledHttpClientOptions ClientOptions { get; set; } = new();

    /// <summary>Gets or sets a callback told about every call the full wait queue dropped or rejected, with its provider.</summary>
    /// <value><see langword="null"/>.</value>
    public Action<string, DropReason>? OnDropped { get; set; }

    /// <summary>Gets or sets how long <see cref="HttpGate.DisposeAsync"/> lets waiting and running calls finish.</summary>
    /// <value><see cref="Timeout.InfiniteTimeSpan"/>. When it passes, waiting calls fail with
    /// <see cref="ItemDroppedException"/> (<see cref="DropReason.DrainTimeout"/>) and running calls are cancelled.</value>
    public TimeSpan DrainTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Gets or sets the clock every window, pause and timer of the gate uses.</summary>
    /// <value><see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal HttpGateOptions Clone()
    {
        var copy = new HttpGateOptions
        {
            Name = Name,
            MaxConcurrency = MaxConcurrency,
            QueueCapacity = QueueCapacity,
            QueueFullMode = QueueFullMode,
            DefaultLimits = DefaultLimits?.Clone()!,
            DefaultThrottlePause = DefaultThrottlePause,
            MaxThrottlePause = MaxThrottlePause,
            ResiliencePipeline = ResiliencePipeline,
            HttpClient = HttpClient,
            ClientOptions = ClientOptions?.Clone()!,
            OnDropped = OnDropped,
            DrainTimeout = DrainTimeout,
            TimeProvider = TimeProvider,
        };
        foreach (var (name, limits) in Providers)
        {
            copy.Providers[name] = limits?.Clone()!;
        }

        return copy;
    }
}
