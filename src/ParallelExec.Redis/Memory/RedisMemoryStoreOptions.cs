using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// Options of <see cref="RedisMemoryStore"/>: the shared <see cref="ComponentOptions"/> (name, the clock that decides
/// when entries expire and that times retries, meter factory) plus the server, the key layout, the size of one command
/// and the retry; validated and copied when the store is created.
/// </summary>
/// <remarks><see cref="ComponentOptions.DrainTimeout"/> has no effect: the store holds no queue of its own; every call is its caller's await.</remarks>
public sealed class RedisMemoryStoreOptions : ComponentOptions
{
    /// <summary>
    /// Gets or sets the StackExchange.Redis configuration string of the server (for example <c>127.0.0.1:6379</c>);
    /// the store opens its own connection on first use and closes it when disposed. Ignored when
    /// <see cref="Connection"/> is set.
    /// </summary>
    /// <value>The default is <see langword="null"/>; this or <see cref="Connection"/> must be set.</value>
    public string? Configuration { get; set; }

    /// <summary>Gets or sets a connection the application owns and shares; the store never closes it.</summary>
    /// <value>The default is <see langword="null"/>: the store connects with <see cref="Configuration"/>.</value>
    public IConnectionMultiplexer? Connection { get; set; }

    /// <summary>Gets or sets the Redis database number.</summary>
    /// <value>The default is -1, the connection's default database.</value>
    public int Database { get; set; } = -1;

    /// <summary>
    /// Gets or sets the prefix of every key the store writes; a key is
    /// <c>&lt;prefix&gt;&lt;namespace length&gt;:&lt;namespace&gt;:&lt;key&gt;</c>, so no namespace can read another's keys.
    /// </summary>
    /// <value>The default is <c>parallelexec:memory:</c>; must not be <see langword="null"/>.</value>
    public string KeyPrefix { get; set; } = "parallelexec:memory:";

    /// <summary>
    /// Gets or sets how many keys one command carries: a bulk read of more keys is split into several <c>MGET</c>s sent
    /// together (one round trip), so no single command holds the server for long; also the <c>COUNT</c> of each
    /// <c>SCAN</c> step of a listing.
    /// </summary>
    /// <value>The default is 1,000; must be greater than zero.</value>
    public int MaxKeysPerCommand { get; set; } = 1_000;

    /// <summary>
    /// Gets or sets how many times an operation that could not reach the server (connection lost, timeout, server
    /// loading) is retried, with exponential back-off and jitter from <see cref="RetryDelay"/>, before its caller gets
    /// the <see cref="RedisConnectionException"/> or <see cref="RedisTimeoutException"/>. Ignored when
    /// <see cref="ResiliencePipeline"/> is set.
    /// </summary>
    /// <value>The default is 3; must be zero or greater.</value>
    public int MaxRetries { get; set; } = 3;

    /// <summary>Gets or sets the first back-off delay of the built-in retry. Ignored when <see cref="ResiliencePipeline"/> is set.</summary>
    /// <value>The default is 100 milliseconds; must be greater than zero.</value>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Gets or sets the Polly pipeline every operation runs through, replacing the built-in retry. Each attempt sends the
    /// whole operation again; writes are idempotent, a retried delete may report the key as already gone.
    /// </summary>
    /// <value>The default is <see langword="null"/>: the retry built from <see cref="MaxRetries"/> and <see cref="RetryDelay"/>.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "RedisMemoryStore";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(Connection is not null || !string.IsNullOrWhiteSpace(Configuration), nameof(Configuration), Configuration, "must name the server (for example 127.0.0.1:6379) when no Connection is given")
            .Require(KeyPrefix is not null, nameof(KeyPrefix), KeyPrefix, "must not be null")
            .RequirePositive(MaxKeysPerCommand, nameof(MaxKeysPerCommand))
            .Require(MaxRetries >= 0, nameof(MaxRetries), MaxRetries, "must be zero or greater")
            .RequirePositive(RetryDelay, nameof(RetryDelay));
    }

    internal RedisMemoryStoreOptions Clone() => (RedisMemoryStoreOptions)MemberwiseClone();
}
