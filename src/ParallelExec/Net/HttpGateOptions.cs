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
    /// Gets or sets the pipeline of responses <see cref="HttpGate.SendAsync"/> runs through instead of
    /// <see cref="ResiliencePipeline"/>, so that result-based strategies plug in: under it, a throttling answer (429, or
    /// 503 with <c>Retry-After</c>) is not thrown but returned as the attempt's result, after pausing its provider, so a
    /// retry that handles those results waits in the gate for the pause and needs no delay of its own. Polly disposes
    /// each handled response before it retries; when the pipeline gives up, the caller gets the last response.
    /// <see cref="HttpGate.RunAsync{T}"/> keeps <see cref="ResiliencePipeline"/>.
    /// </summary>
    /// <value><see langword="null"/>: <see cref="ResiliencePipeline"/> applies to every call.</value>
    public ResiliencePipeline<HttpResponseMessage>? ResponseResiliencePipeline { get; set; }

    /// <summary>
    /// Gets or sets the most bytes of one response's content <see cref="HttpGate.SendAsync"/> buffers, counted after
    /// automatic decompression (so a small compressed body cannot inflate past it). A longer content (or a
    /// <c>Content-Length</c> above it) fails the attempt with an <see cref="HttpRequestException"/> whose
    /// <see cref="HttpRequestException.HttpRequestError"/> is <see cref="HttpRequestError.ConfigurationLimitExceeded"/>
    /// and whose message names this option. At most about this many bytes are held per call in flight.
    /// </summary>
    /// <value>16 MiB (16,777,216). Must be between 1 and <see cref="MaxResponseContentLengthLimit"/>.</value>
    public long MaxResponseContentLength { get; set; } = 16 * 1024 * 1024;

    /// <summary>Gets the largest <see cref="MaxResponseContentLength"/> accepted: 1 GiB (one buffer holds the content).</summary>
    public static long MaxResponseContentLengthLimit => 1024 * 1024 * 1024;

    /// <summary>
    /// Gets or sets which redirects <see cref="HttpGate.SendAsync"/> follows. The client the gate builds never follows
    /// redirects by itself (<see cref="PooledHttpClientOptions.AllowAutoRedirect"/> is forced off), so this policy is the
    /// only one; a client given in <see cref="HttpClient"/> should have automatic redirects off too, or its handler
    /// follows them before the gate sees them.
    /// </summary>
    /// <value><see cref="HttpRedirectPolicy.SameHost"/>: a redirect to another host comes back to the caller, unfollowed.</value>
    public HttpRedirectPolicy RedirectPolicy { get; set; } = HttpRedirectPolicy.SameHost;

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
            .RequireTimerRange(DefaultThrottlePause, nameof(DefaultThrottlePause))
            .RequireTimerRange(MaxThrottlePause, nameof(MaxThrottlePause))
            .Require(
                MaxResponseContentLength >= 1 && MaxResponseContentLength <= MaxResponseContentLengthLimit,
                nameof(MaxResponseContentLength),
                MaxResponseContentLength,
                "must be between 1 and 1 GiB (1073741824): a larger response could exhaust memory")
            .RequireDefined(RedirectPolicy, nameof(RedirectPolicy));
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
