namespace ParallelExec.Redis;

/// <summary>
/// Builds a <see cref="RedisMemoryStore"/> (<see cref="RedisMemoryStore.CreateBuilder(string)"/>): the key layout and
/// the database and the retry (<see cref="RedisComponentBuilder{TBuilder, TOptions, TComponent}"/>), besides the methods every
/// builder shares. Single use.
/// </summary>
public sealed class RedisMemoryStoreBuilder : RedisComponentBuilder<RedisMemoryStoreBuilder, RedisMemoryStoreOptions, RedisMemoryStore>
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

    /// <summary>Sets how many keys one command carries (<see cref="RedisMemoryStoreOptions.MaxKeysPerCommand"/>).</summary>
    /// <param name="maxKeysPerCommand">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public RedisMemoryStoreBuilder WithMaxKeysPerCommand(int maxKeysPerCommand) => Set(o => o.MaxKeysPerCommand = maxKeysPerCommand);

    /// <inheritdoc/>
    protected override RedisMemoryStore Create(RedisMemoryStoreOptions options) => new(options);
}
