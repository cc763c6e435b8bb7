using ParallelExec.Internal;

namespace ParallelExec.Net;

/// <summary>
/// Builds the one <see cref="HttpClient"/> an application should share for its outgoing calls: a
/// <see cref="SocketsHttpHandler"/> with pooled connections that are recycled, a per-server connection cap and HTTP/2
/// multiple connections.
/// </summary>
/// <remarks>
/// A client per call opens a new connection (TCP and TLS handshakes) per call and leaves sockets in TIME_WAIT; a
/// client kept forever without <see cref="PooledHttpClientOptions.PooledConnectionLifetime"/> never sees DNS changes.
/// Build one client here, keep it for the application's lifetime, and pass it to every caller.
/// </remarks>
public static class PooledHttpClient
{
    /// <summary>Creates a shared client over a pooled <see cref="SocketsHttpHandler"/>.</summary>
    /// <param name="options">The settings; <see langword="null"/> for the defaults.</param>
    /// <returns>A client that owns its handler: disposing the client closes its connections.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public static HttpClient Create(PooledHttpClientOptions? options = null)
    {
        options = options?.Clone() ?? new PooledHttpClientOptions();
        var client = new HttpClient(CreateHandlerCore(options), disposeHandler: true)
        {
            Timeout = options.RequestTimeout,
        };
        if (options.BaseAddress is not null)
        {
            client.BaseAddress = options.BaseAddress;
        }

        return client;
    }

    /// <summary>Creates the pooled handler alone, for callers that compose their own handler chain.</summary>
    /// <param name="options">The settings; <see langword="null"/> for the defaults.</param>
    /// <returns>A new handler; the caller owns it.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public static SocketsHttpHandler CreateHandler(PooledHttpClientOptions? options = null) =>
        CreateHandlerCore(options?.Clone() ?? new PooledHttpClientOptions());

    /// <summary>The longest <see cref="HttpClient.Timeout"/> and <see cref="SocketsHttpHandler.ConnectTimeout"/> (<see cref="int.MaxValue"/> milliseconds).</summary>
    private static readonly TimeSpan MaxClientTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    internal static void Validate(PooledHttpClientOptions options, OptionsValidator validator) =>
        validator
            .RequirePositiveOrInfinite(options.PooledConnectionLifetime, nameof(PooledHttpClientOptions.PooledConnectionLifetime))
            .RequirePositiveOrInfinite(options.PooledConnectionIdleTimeout, nameof(PooledHttpClientOptions.PooledConnectionIdleTimeout))
            .RequirePositive(options.MaxConnectionsPerServer, nameof(PooledHttpClientOptions.MaxConnectionsPerServer))
            .RequirePositiveOrInfinite(options.ConnectTimeout, nameof(PooledHttpClientOptions.ConnectTimeout))
            .RequirePositiveOrInfinite(options.RequestTimeout, nameof(PooledHttpClientOptions.RequestTimeout))
            // HttpClient.Timeout and SocketsHttpHandler.ConnectTimeout throw beyond int.MaxValue ms when the client is
            // built, naming only the property: refused here with the options' name and value, beside every other bad
            // value. The connection lifetimes get the timer bound every span option of the library has.
            .RequireTimerRange(options.PooledConnectionLifetime, nameof(PooledHttpClientOptions.PooledConnectionLifetime))
            .RequireTimerRange(options.PooledConnectionIdleTimeout, nameof(PooledHttpClientOptions.PooledConnectionIdleTimeout))
            .RequireAtMost(options.ConnectTimeout, MaxClientTimeout, nameof(PooledHttpClientOptions.ConnectTimeout), "the longest HttpClient timeout")
            .RequireAtMost(options.RequestTimeout, MaxClientTimeout, nameof(PooledHttpClientOptions.RequestTimeout), "the longest HttpClient timeout")
            .Require(options.BaseAddress is null || options.BaseAddress.IsAbsoluteUri, nameof(PooledHttpClientOptions.BaseAddress), options.BaseAddress, "must be an absolute URI");

    private static SocketsHttpHandler CreateHandlerCore(PooledHttpClientOptions options)
    {
        var validator = new OptionsValidator(nameof(PooledHttpClientOptions));
        Validate(options, validator);
        validator.ThrowIfInvalid();
        return new SocketsHttpHandler
        {
            PooledConnectionLifetime = options.PooledConnectionLifetime,
            PooledConnectionIdleTimeout = options.PooledConnectionIdleTimeout,
            MaxConnectionsPerServer = options.MaxConnectionsPerServer,
            EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
            ConnectTimeout = options.ConnectTimeout,
            AllowAutoRedirect = options.AllowAutoRedirect,

            // Safe with HttpGate: its MaxResponseContentLength counts the decompressed bytes.
            AutomaticDecompression = System.Net.DecompressionMethods.All,
        };
    }
}
