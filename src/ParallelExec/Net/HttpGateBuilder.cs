using Polly;

namespace ParallelExec.Net;

/// <summary>
/// Configures and builds an <see cref="HttpGate"/>; returned by <see cref="Exec.Http"/>. Single use: after
/// <see cref="Build"/>, every method throws <see cref="InvalidOperationException"/>.
/// </summary>
/// <example>
/// <code>
/// await using var gate = Exec.Http()
///     .WithMaxConcurrency(32)
///     .AddProvider("openai", new ProviderLimits { RequestLimit = 500, RequestPeriod = TimeSpan.FromMinutes(1), WeightLimit = 200_000 })
///     .RetryOnThrottle()
///     .Build();
/// using var response = await gate.SendAsync("openai", () => new HttpRequestMessage(HttpMethod.Post, url) { Content = body }, weight: estimatedTokens);
/// </code>
/// </example>
public sealed class HttpGateBuilder
{
    private readonly HttpGateOptions _options = new();
    private bool _built;

    internal HttpGateBuilder()
    {
    }

    /// <summary>Sets the most calls in flight at once (<see cref="HttpGateOptions.MaxConcurrency"/>).</summary>
    /// <param name="maxConcurrency">The limit; validated by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithMaxConcurrency(int maxConcurrency) => Configure(o => o.MaxConcurrency = maxConcurrency);

    /// <summary>Sets the wait queue's capacity and what happens when it is full.</summary>
    /// <param name="capacity">How many calls may wait; validated by <see cref="Build"/>.</param>
    /// <param name="fullMode">What a call does when the queue is full.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) =>
        Configure(o =>
        {
            o.QueueCapacity = capacity;
            o.QueueFullMode = fullMode;
        });

    /// <summary>Sets the limits of one provider (<see cref="HttpGateOptions.Providers"/>); a second call for a name replaces the first.</summary>
    /// <param name="name">The provider's name, as calls will give it.</param>
    /// <param name="limits">The provider's limits; copied by <see cref="Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> or <paramref name="limits"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder AddProvider(string name, ProviderLimits limits)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(limits);
        return Configure(o => o.Providers[name] = limits);
    }

    /// <summary>Sets the pipeline every call runs through (<see cref="HttpGateOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Configure(o => o.ResiliencePipeline = pipeline);
    }

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
        return Configure(o => o.HttpClient = client);
    }

    /// <summary>Sets the clock of the gate's windows, pauses and timers.</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="timeProvider"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder WithTimeProvider(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        return Configure(o => o.TimeProvider = timeProvider);
    }

    /// <summary>Changes any other option.</summary>
    /// <param name="configure">Changes the options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGateBuilder Configure(Action<HttpGateOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        ThrowIfBuilt();
        configure(_options);
        return this;
    }

    /// <summary>Validates the options and builds the gate.</summary>
    /// <returns>The gate; dispose it when done.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public HttpGate Build()
    {
        ThrowIfBuilt();
        _built = true;
        return new HttpGate(_options);
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This HttpGateBuilder has already built a gate; builders are single use.");
        }
    }
}
