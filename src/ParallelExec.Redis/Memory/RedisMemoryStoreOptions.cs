using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// Options of <see cref="RedisMemoryStore"/>: the shared <see cref="ComponentOptions"/> (name, the clock that decides
/// when entries expire and that times retries, meter factory) plus the server, the key layout, the size of one command
/// and the retry; validated and copied when the store is created.
/// </summary>
/// <remarks><see cref="ComponentOptions.DrainTimeout"/> has no effect: the store holds no queue of its own; every call is its caller's await.</remarks>
public sealed class RedisMemoryStoreOptions : RedisComponentOptions
{

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

    /// <inheritdoc/>
    protected override string DefaultName => "RedisMemoryStore";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(KeyPrefix is not null, nameof(KeyPrefix), KeyPrefix, "must not be null")
            .RequirePositive(MaxKeysPerCommand, nameof(MaxKeysPerCommand));
    }

    internal RedisMemoryStoreOptions Clone() => (RedisMemoryStoreOptions)MemberwiseClone();
}
