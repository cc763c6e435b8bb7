namespace ParallelExec.Net;

/// <summary>
/// Settings of the shared <see cref="HttpClient"/> that <see cref="PooledHttpClient"/> builds over a
/// <see cref="System.Net.Http.SocketsHttpHandler"/>.
/// </summary>
public sealed class PooledHttpClientOptions
{
    /// <summary>
    /// Gets or sets how long a pooled connection lives before it is replaced, so that DNS changes are picked up by a
    /// client that lives as long as the application.
    /// </summary>
    /// <value>Two minutes. Must be greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Gets or sets how long an idle pooled connection is kept open.</summary>
    /// <value>One minute. Must be greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan PooledConnectionIdleTimeout { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets or sets the most connections opened to one server. An <see cref="HttpGate"/> that builds its own client sets
    /// it to the gate's <see cref="HttpGateOptions.MaxDegreeOfParallelism"/>, so that every admitted call finds a connection and
    /// no connection is opened that the gate would never use.
    /// </summary>
    /// <value>32. Must be greater than zero.</value>
    public int MaxConnectionsPerServer { get; set; } = 32;

    /// <summary>
    /// Gets or sets whether more than one HTTP/2 connection may be opened to a server when the streams of one are
    /// exhausted.
    /// </summary>
    /// <value><see langword="true"/>.</value>
    public bool EnableMultipleHttp2Connections { get; set; } = true;

    /// <summary>Gets or sets how long establishing a connection may take.</summary>
    /// <value>Fifteen seconds. Must be greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Gets or sets the whole-request timeout of the client (<see cref="HttpClient.Timeout"/>).</summary>
    /// <value>100 seconds. Must be greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>
    /// Gets or sets whether the handler follows redirects by itself, to any host. Off by default: a redirect to another
    /// host would take the request (and its <c>Authorization</c> header's purpose) to a party the caller never chose. An
    /// <see cref="HttpGate"/> forces it off and follows redirects by its own <see cref="HttpGateOptions.RedirectPolicy"/>.
    /// </summary>
    /// <value><see langword="false"/>.</value>
    public bool AllowAutoRedirect { get; set; }

    /// <summary>Gets or sets the base address of the client, if calls use relative URIs.</summary>
    /// <value><see langword="null"/>.</value>
    public Uri? BaseAddress { get; set; }

    internal PooledHttpClientOptions Clone() => (PooledHttpClientOptions)MemberwiseClone();
}
