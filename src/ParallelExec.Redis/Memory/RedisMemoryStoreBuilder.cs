using Polly;

namespace ParallelExec.Redis;

/// <summary>
/// Builds a <see cref="RedisMemoryStore"/> (<see cref="RedisMemoryStore.CreateBuilder(string)"/>): the key layout and
/// the retry, besides the methods every builder shares. Single use.
/// </summary>
public sealed class RedisMemoryStoreBuilder : ComponentBuilder<RedisMemoryStoreBuilder, RedisMemoryStoreOptions, RedisMemoryStore>
{
    internal RedisMemoryStoreBuilder(RedisMemoryStoreOptions options)
        : base(options)
    {
    }

    /// <summary>Sets the prefix of every key the store writes (<see cref="RedisMemoryStoreOptions.KeyPrefix"/>).</summary>
    /// <param name="keyPrefix">The prefix; may be empty.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithKeyPrefix(string keyPrefix) => Set(o => o.KeyPrefix = keyPrefix);

    /// <summary>Sets the Redis database number (<see cref="RedisComponentOptions.Database"/>).</summary>
    /// <param name="database">The database; -1 for the connection's default.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithDatabase(int database) => Set(o => o.Database = database);

    /// <summary>Sets how many keys one command carries (<see cref="RedisMemoryStoreOptions.MaxKeysPerCommand"/>).</summary>
    /// <param name="maxKeysPerCommand">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithMaxKeysPerCommand(int maxKeysPerCommand) => Set(o => o.MaxKeysPerCommand = maxKeysPerCommand);

    /// <summary>Sets the built-in retry of connection losses and timeouts (<see cref="RedisComponentOptions.MaxRetries"/>, <see cref="RedisComponentOptions.RetryDelay"/>).</summary>
    /// <param name="maxRetries">Zero or more.</param>
    /// <param name="firstDelay">The first back-off delay; greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithRetry(int maxRetries, TimeSpan firstDelay) => Set(o =>
    {
        o.MaxRetries = maxRetries;
        o.RetryDelay = firstDelay;
    });

    /// <summary>Runs every operation through a Polly pipeline instead of the built-in retry (<see cref="RedisComponentOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResiliencePipeline = pipeline);
    }

    /// <inheritdoc/>
    protected override RedisMemoryStore Create(RedisMemoryStoreOptions options) => new(options);
}
