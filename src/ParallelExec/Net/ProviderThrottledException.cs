using System.Globalization;
using System.Net;

namespace ParallelExec.Net;

/// <summary>
/// A provider refused a call because of its rate limit (HTTP 429, or 503 with <c>Retry-After</c>). The gate has paused
/// the provider for <see cref="RetryAfter"/>; a resilience pipeline that handles this exception retries the call, and
/// the retry waits in the gate until the pause ends.
/// </summary>
/// <remarks>
/// Code that calls a provider through <see cref="HttpGate.RunAsync{T}"/> without HTTP (an SDK client, say) throws this
/// exception itself to report throttling; the gate then pauses the provider the same way.
/// </remarks>
public sealed class ProviderThrottledException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="provider">The throttled provider.</param>
    /// <param name="retryAfter">How long the provider asked callers to wait; <see langword="null"/> when it did not say.</param>
    /// <param name="statusCode">The HTTP status the provider answered, if the call was an HTTP call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> is <see langword="null"/>.</exception>
    public ProviderThrottledException(string provider, TimeSpan? retryAfter, HttpStatusCode? statusCode = null)
        : base(CreateMessage(provider, retryAfter, statusCode))
    {
        Provider = provider;
        RetryAfter = retryAfter;
        StatusCode = statusCode;
    }

    /// <summary>Gets the throttled provider.</summary>
    public string Provider { get; }

    /// <summary>Gets how long the provider asked callers to wait, or <see langword="null"/> when it did not say.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>Gets the HTTP status the provider answered, or <see langword="null"/> for a call that was not HTTP.</summary>
    public HttpStatusCode? StatusCode { get; }

    private static string CreateMessage(string provider, TimeSpan? retryAfter, HttpStatusCode? statusCode)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var status = statusCode is { } code ? $" with {(int)code} {code}" : string.Empty;
        var wait = retryAfter is { } delay ? $"; Retry-After {delay.TotalSeconds:0.###} s" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"Provider '{provider}' throttled the call{status}{wait}.");
    }
}
