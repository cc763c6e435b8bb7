using Polly;

namespace ParallelExec.Net;

/// <summary>
/// Configures and builds an <see cref="HttpGate"/>; returned by <see cref="Exec.Http"/>. Single use: after
/// <c>Build()</c>, every method throws <see cref="InvalidOperationException"/>. The name, clock, drain timeout and meter
/// are set with the methods every builder shares.
/// </summary>
/// <example>
/// <code>
/// await using var gate = Exec.Http()
///     .WithMaxDegreeOfParallelism(32)
///     .AddProvider("openai", new ProviderLimits { RequestLimit = 500, RequestPeriod = TimeSpan.FromMinutes(1), WeightLimit = 200_000 })
///     .RetryOnThrottle()
///     .Build();
/// using var response = await gate.SendAsync("openai", () => new HttpRequestMessage(HttpMethod.Post, url) { Content = body }, weight: estimatedTokens);
/// </code>
/// </example>
public sealed class HttpGateBuilder : ComponentBuilder<HttpGateBuilder, HttpGateOptions, HttpGate>
{
    internal HttpGateBuilder()
        : base(new HttpGateOptions())
    {
    }

    /// <summary>Sets the most calls in flight at once (<see cref="HttpGateOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">The limit; validated by <c>Build()</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) => Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Sets the wait queue's capacity and what happens when it is full.</summary>
    /// <param name="capacity">How many calls may wait (<see cref="HttpGateOptions.QueueCapacity"/>); validated by <c>Build()</c>.</param>
    /// <param name="fullMode">What a call does when the queue is full (<see cref="HttpGateOptions.FullMode"/>).</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) =>
        Set(o =>
        {
            o.QueueCapacity = capacity;
            o.FullMode = fullMode;
        });

    /// <summary>Sets the callback told about every call that did not run to an outcome of its own (<see cref="HttpGateOptions.OnDropped"/>).</summary>
    /// <param name="onDropped">The callback; <see cref="DroppedItem.Key"/> is the call's provider.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="onDropped"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder OnDropped(Action<DroppedItem> onDropped)
    {
        ArgumentNullException.ThrowIfNull(onDropped);
        return Set(o => o.OnDropped = onDropped);
    }

    /// <summary>Sets the limits of one provider (<see cref="HttpGateOptions.Providers"/>); a second call for a name replaces the first.</summary>
    /// <param name="name">The provider's name, as calls will give it.</param>
    /// <param name="limits">The provider's limits; copied by <c>Build()</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="limits"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder AddProvider(string name, ProviderLimits limits)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(limits);
        return Set(o => o.Providers[name] = limits);
    }

    /// <summary>Sets the pipeline every call runs through (<see cref="HttpGateOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResiliencePipeline = pipeline);
    }

    /// <summary>
    /// Sets the pipeline of responses <see cref="HttpGate.SendAsync"/> runs through
    /// (<see cref="HttpGateOptions.ResponseResiliencePipeline"/>): result-based retries on 429 or 503 plug in.
    /// </summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithResilience(ResiliencePipeline<HttpResponseMessage> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResponseResiliencePipeline = pipeline);
    }

    /// <summary>Sets the most bytes of one response's content the gate buffers (<see cref="HttpGateOptions.MaxResponseContentLength"/>).</summary>
    /// <param name="maxResponseContentLength">The cap, counted after decompression; validated by <c>Build()</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithMaxResponseContentLength(long maxResponseContentLength) => Set(o => o.MaxResponseContentLength = maxResponseContentLength);

    /// <summary>Sets which redirects the gate follows (<see cref="HttpGateOptions.RedirectPolicy"/>).</summary>
    /// <param name="policy">The policy; validated by <c>Build()</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithRedirectPolicy(HttpRedirectPolicy policy) => Set(o => o.RedirectPolicy = policy);

    /// <summary>Retries throttled calls after their provider's pause (<see cref="HttpGate.CreateThrottleRetryPipeline"/>).</summary>
    /// <param name="maxRetryAttempts">How many times one call may be retried.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRetryAttempts"/> is less than one.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder RetryOnThrottle(int maxRetryAttempts = 5) => WithResilience(HttpGate.CreateThrottleRetryPipeline(maxRetryAttempts));

    /// <summary>Uses a client the caller owns instead of building a pooled one (<see cref="HttpGateOptions.HttpClient"/>).</summary>
    /// <param name="client">The shared client; the gate does not dispose it.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="client"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithHttpClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return Set(o => o.HttpClient = client);
    }

    /// <inheritdoc/>
    protected override HttpGate Create(HttpGateOptions options) => new(options);
}
