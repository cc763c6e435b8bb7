using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// What every ParallelExec.Redis component's options share: the server (a configuration string, or a connection the
/// application owns), the database, and the retry of calls that could not reach the server.
/// </summary>
public abstract class RedisComponentOptions : ComponentOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string of the server (for example <c>127.0.0.1:6379</c>); the
    /// component opens its own connection on first use (reconnecting after a loss) and closes it when disposed.
    /// Ignored when <see cref="Connection"/> is set.
    /// </summary>
    /// <value>The default is <see langword="null"/>; this or <see cref="Connection"/> must be set.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets a connection the application owns and shares; the component never closes it.</summary>
    /// <value>The default is <see langword="null"/>: the component connects with <see cref="Configuration"/>.</value>
    public IConnectionMultiplexer? Connection { get; set; }

    /// <summary>Gets or sets the Redis database number (Pub/Sub channels are server-wide).</summary>
    /// <value>The default is -1, the connection's default database; must be -1 or greater.</value>
    public int Database { get; set; } = -1;

    /// <summary>
    /// Gets or sets how many times a call that could not reach the server (connection lost, timeout, server loading) is
    /// retried, with exponential back-off and jitter from <see cref="RetryDelay"/>, before its caller gets the
    /// <see cref="RedisConnectionException"/> or <see cref="RedisTimeoutException"/>. Ignored when
    /// <see cref="ResiliencePipeline"/> is set.
    /// </summary>
    /// <value>The default is 3; must be zero or greater.</value>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Gets or sets the first back-off delay of the built-in retry. Ignored when <see cref="ResiliencePipeline"/> is set.</summary>
    /// <value>The default is 100 milliseconds; must be greater than zero.</value>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Gets or sets the Polly pipeline every call to the server runs through (never user handlers), replacing the built-in retry.</summary>
    /// <value>The default is <see langword="null"/>: the retry built from <see cref="MaxRetries"/> and <see cref="RetryDelay"/>.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(Connection is not null || !string.IsNullOrWhiteSpace(Configuration), nameof(Configuration), Configuration, "must name the server (for example 127.0.0.1:6379) when no Connection is given")
            .Require(Database >= -1, nameof(Database), Database, "must be -1 (the connection's default) or a database number")
            .Require(MaxRetries >= 0, nameof(MaxRetries), MaxRetries, "must be zero or greater")
            .RequirePositive(RetryDelay, nameof(RetryDelay))
            .RequireTimerRange(RetryDelay, nameof(RetryDelay));
    }

    internal RedisConnectionSource CreateConnection() => new(Connection, Configuration);

    internal ResiliencePipeline CreatePipeline(Action? onRetry = null) =>
        ResiliencePipeline ?? RedisRetry.Build(MaxRetries, RetryDelay, TimeProvider, onRetry);
}
