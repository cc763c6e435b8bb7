using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>The bounded retry every component uses by default: connection losses and timeouts, exponential back-off.</summary>
internal static class RedisRetry
{
    /// <summary>Whether an exception means the server could not be reached (worth a retry), not that a command was wrong.</summary>
    public static bool IsTransient(Exception exception) =>
        exception is RedisConnectionException or RedisTimeoutException
        || (exception is RedisServerException server && server.Message.StartsWith("LOADING", StringComparison.Ordinal));

    /// <summary>Builds the default pipeline, or an empty one for zero retries.</summary>
    public static ResiliencePipeline Build(int maxRetries, TimeSpan firstDelay, TimeProvider timeProvider, Action? onRetry = null)
    {
        if (maxRetries == 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsTransient),
                MaxRetryAttempts = maxRetries,
                Delay = firstDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = _ =>
                {
                    onRetry?.Invoke();
                    return default;
                },
            })
            .Build();
    }
}
