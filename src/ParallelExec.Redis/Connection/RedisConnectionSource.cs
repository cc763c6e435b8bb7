using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// The connection a component uses: one the application owns and passes in (never closed here), or one the component
/// opens from a configuration string on first use and closes when it is disposed.
/// </summary>
/// <remarks>
/// An owned connection is opened with <c>abortConnect=false</c>: when the server goes away the multiplexer keeps
/// reconnecting in the background, and commands issued meanwhile fail with <see cref="RedisConnectionException"/>
/// (which the components' retry handles) instead of the connection object being lost.
/// </remarks>
internal sealed class RedisConnectionSource : IAsyncDisposable
{
    private readonly IConnectionMultiplexer? _shared;
    private readonly string? _configuration;
    private readonly SemaphoreSlim _opening = new(1, 1);
    private IConnectionMultiplexer? _owned;
    private bool _disposed;

    public RedisConnectionSource(IConnectionMultiplexer? shared, string? configuration)
    {
        _shared = shared;
        _configuration = configuration;
    }

    /// <summary>Gets the connection, opening the owned one on first use.</summary>
    public ValueTask<IConnectionMultiplexer> GetAsync(CancellationToken cancellationToken)
    {
        if (_shared is not null)
        {
            return new(_shared);
        }

        var owned = Volatile.Read(ref _owned);
        return owned is not null ? new(owned) : new(OpenAsync(cancellationToken));
    }

    /// <summary>Parses a configuration string the way every component does, with reconnection on.</summary>
    public static ConfigurationOptions Parse(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AbortOnConnectFail = false;
        // Reconnect soon after a lost server comes back (the default back-off grows to tens of seconds).
        options.ReconnectRetryPolicy = new ExponentialRetry(deltaBackOffMilliseconds: 100, maxDeltaBackOffMilliseconds: 2_000);
        return options;
    }

    private async Task<IConnectionMultiplexer> OpenAsync(CancellationToken cancellationToken)
    {
        await _opening.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_owned is null)
            {
                var connection = await ConnectionMultiplexer.ConnectAsync(Parse(_configuration!)).ConfigureAwait(false);
                Volatile.Write(ref _owned, connection);
            }

            return _owned!;
        }
        finally
        {
            _opening.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _opening.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            if (_owned is not null)
            {
                await _owned.DisposeAsync().ConfigureAwait(false);
                _owned = null;
            }
        }
        finally
        {
            _opening.Release();
        }
    }
}
