using Polly;
using Polly.Retry;

namespace ParallelExec.Net;

/// <summary>Retry-After feedback: a throttling answer pauses its provider, and a retry waits in the gate for the pause to end.</summary>
public sealed partial class HttpGate
{
    /// <summary>
    /// Creates a Polly pipeline that retries calls failed with <see cref="ProviderThrottledException"/> at once: the retry
    /// waits in the gate, behind the provider's pause, so no delay of its own is needed.
    /// </summary>
    /// <param name="maxRetryAttempts">How many times one call may be retried.</param>
    /// <returns>A pipeline for <see cref="HttpGateOptions.ResiliencePipeline"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRetryAttempts"/> is less than one.</exception>
    public static ResiliencePipeline CreateThrottleRetryPipeline(int maxRetryAttempts = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetryAttempts, 1);
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ProviderThrottledException>(),
                MaxRetryAttempts = maxRetryAttempts,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
            })
            .Build();
    }

    /// <summary>
    /// Sends one request; a 429, or a 503 with <c>Retry-After</c>, becomes <see cref="ProviderThrottledException"/>, unless
    /// the call runs through <see cref="HttpGateOptions.ResponseResiliencePipeline"/>: then the response comes back as the
    /// attempt's result (the attempt pauses the provider) for a result-based strategy to handle.
    /// </summary>
    private async ValueTask<HttpResponseMessage> SendOnceAsync(string provider, Func<HttpRequestMessage> requestFactory, bool throttleAsResult, CancellationToken cancellationToken)
    {
        var response = await SendBoundedAsync(provider, requestFactory, cancellationToken).ConfigureAwait(false);
        if (!throttleAsResult && IsThrottle(response, out var delay))
        {
            var status = response.StatusCode;
            response.Dispose();
            throw new ProviderThrottledException(provider, delay, status);
        }

        return response;
    }

    /// <summary>Pauses a provider that throttled an attempt, for its <c>Retry-After</c> (bounded) or the default pause.</summary>
    private void OnThrottled(GateProvider provider, TimeSpan? retryAfter)
    {
        var pause = retryAfter ?? _options.DefaultThrottlePause;
        if (pause > _options.MaxThrottlePause)
        {
            pause = _options.MaxThrottlePause;
        }

        var added = TimeSpan.Zero;
        lock (_lock)
        {
            provider.Throttled++;
            _throttled++;
            if (!provider.IsDisposed)
            {
                added = PauseLocked(provider, pause, Now());
            }
        }

        _telemetry.Throttled.Add(1, provider.Tags);
        RecordPause(provider, added);
    }
}
