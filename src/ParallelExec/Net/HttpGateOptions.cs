using Polly;

namespace ParallelExec.Net;

/// <summary>
/// Settings of an <see cref="HttpGate"/>: its concurrency, its wait queue, the limits of each provider, the shared
/// client and the resilience pipeline calls are retried through. The name, clock, drain timeout and meter come from
/// <see cref="ComponentOptions"/>.
/// </summary>
/// <remarks>The gate copies these options when it is built; later changes to this object do not affect it.</remarks>
public sealed class HttpGateOptions : ComponentOptions
{
    private Dictionary<string, ProviderLimits> _providers = new(StringComparer.Ordinal);

    /// <summary>Gets or sets the most calls in flight at once, over every provider.</summary>
    /// <value>32. Must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = 32;

    /// <summary>Gets or sets how many calls may wait for admission, over every provider.</summary>
    /// <value>1024. Must be greater than zero.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what a call does when the wait queue is full.</summary>
    /// <value><see cref="QueueFullMode.Wait"/>: the call waits for room (or for its token).</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>Gets the limits of each named provider. A provider not listed gets <see cref="DefaultLimits"/>.</summary>
    public IDictionary<string, ProviderLimits> Providers => _providers;

    /// <summary>Gets or sets the limits of providers not listed in <see cref="Providers"/>.</summary>
    /// <value>No request or weight limit (only <see cref="MaxDegreeOfParallelism"/> applies).</value>
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
    /// <see cref="ClientOptions"/>, its per-server connection cap set to <see cref="MaxDegreeOfParallelism"/>, and disposes it.</value>
    public HttpClient? HttpClient { get; set; }

    /// <summary>Gets or sets the settings of the client the gate builds when <see cref="HttpClient"/> is not set.</summary>
    /// <value>The defaults of <see cref="PooledHttpClientOptions"/>; <see cref="PooledHttpClientOptions.MaxConnectionsPerServer"/>
    /// is replaced by <see cref="MaxDegreeOfParallelism"/>.</value>
    public PooledHttpClientOptions ClientOptions { get; set; } = new();

    /// <summary>
    /// Gets or sets the callback told about every call that did not run to an outcome of its own: refused or evicted by
    /// the full wait queue, or cut by the drain timeout. <see cref="DroppedItem.Item"/> is the call (the delegate given to
    /// <see cref="HttpGate.RunAsync{T}"/>, or the request factory given to <see cref="HttpGate.SendAsync"/>) and
    /// <see cref="DroppedItem.Key"/> its provider's name.
    /// </summary>
    /// <value><see langword="null"/>.</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "HttpGate";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .RequirePositive(DefaultThrottlePause, nameof(DefaultThrottlePause))
            .RequirePositive(MaxThrottlePause, nameof(MaxThrottlePause))
            .RequireNotNull(DefaultLimits, nameof(DefaultLimits))
            // Pauses are timers: longer spans would fail when the first 429 arrives.
            .Require(DefaultThrottlePause <= TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(DefaultThrottlePause), DefaultThrottlePause, "must be at most 49.17:02:47.2940000 (the longest timer)")
            .Require(MaxThrottlePause <= TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(MaxThrottlePause), MaxThrottlePause, "must be at most 49.17:02:47.2940000 (the longest timer)");
        DefaultLimits?.AddErrors(validator, nameof(DefaultLimits));
        foreach (var (name, limits) in Providers)
        {
            var prefix = $"{nameof(Providers)}[\"{name}\"]";
            validator.RequireNotNull(limits, prefix);
            limits?.AddErrors(validator, prefix);
        }

        if (HttpClient is null)
        {
            validator.RequireNotNull(ClientOptions, nameof(ClientOptions));
            if (ClientOptions is not null)
            {
                PooledHttpClient.Validate(ClientOptions, validator);
            }
        }
    }

    /// <summary>Copies the options and the provider limits, so that later changes by the caller do not reach a gate.</summary>
    /// <returns>The copy.</returns>
    internal HttpGateOptions Clone()
    {
        var copy = (HttpGateOptions)MemberwiseClone();
        copy._providers = _providers.ToDictionary(p => p.Key, p => p.Value?.Clone()!, StringComparer.Ordinal);
        copy.DefaultLimits = DefaultLimits?.Clone()!;
        copy.ClientOptions = ClientOptions?.Clone()!;
        return copy;
    }
}
