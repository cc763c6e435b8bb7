using ParallelExec.Memory;
using ParallelExec.Tests.Memory;

namespace ParallelExec.Redis.Tests;

/// <summary>The shared <see cref="IMemoryStore"/> contract on a real redis-server, each test under a key prefix of its own.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisMemoryStoreContractTests(RedisServerFixture redis) : MemoryStoreContractTests
{
    private readonly string _prefix = RedisServerFixture.UniquePrefix("contract");

    protected override IMemoryStore CreateStore(TimeProvider timeProvider, string name) =>
        new RedisMemoryStore(new RedisMemoryStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix, TimeProvider = timeProvider, Name = name });
}
