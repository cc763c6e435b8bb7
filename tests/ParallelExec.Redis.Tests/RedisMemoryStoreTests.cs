using System.Text;
using ParallelExec.Memory;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Redis.Tests;

/// <summary>What the Redis store adds to the contract: round trips counted by the server, chunked bulk calls, SCAN.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisMemoryStoreTests(RedisServerFixture redis)
{
    private RedisMemoryStore Store(int maxKeysPerCommand = 1_000) => new(new RedisMemoryStoreOptions
    {
        Configuration = redis.Configuration,
        KeyPrefix = RedisServerFixture.UniquePrefix("memory"),
        MaxKeysPerCommand = maxKeysPerCommand,
    });

    [Fact]
    public async Task Under_BatchingMemoryStore_64_concurrent_single_calls_reach_the_server_as_a_few_multi_key_commands()
    {
        await using var redisStore = Store();
        await using var batching = new BatchingMemoryStore(redisStore, new BatchingMemoryStoreOptions { MaxBatchSize = 64, MaxDelay = TimeSpan.FromMilliseconds(5) });
        const int Callers = 64;
        var (gets, mgets, sets, multis) = (await redis.CommandCallsAsync("get"), await redis.CommandCallsAsync("mget"), await redis.CommandCallsAsync("set"), await redis.CommandCallsAsync("exec"));

        await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => batching.SetAsync("ns", "k" + i, Encoding.UTF8.GetBytes("v" + i)).AsTask())).WithTimeout();
        var values = await Task.WhenAll(Enumerable.Range(0, Callers).Select(i => batching.GetAsync("ns", "k" + i).AsTask())).WithTimeout();

        Assert.Equal(Enumerable.Range(0, Callers).Select(i => "v" + i), values.Select(v => Encoding.UTF8.GetString(v!.Value.Span)));
        var readCommands = await redis.CommandCallsAsync("mget") - mgets + (await redis.CommandCallsAsync("get") - gets);
        var writeCommands = await redis.CommandCallsAsync("exec") - multis + (await redis.CommandCallsAsync("set") - sets);
        // 64 reads and 64 writes reached the server as a few commands (a batch of one goes as a single GET or SET).
        Assert.InRange(readCommands, 1, Callers / 4);
        Assert.InRange(writeCommands, 1, Callers / 4);
        Assert.True(redisStore.GetStatistics().BulkCalls >= 2);
    }

    [Fact]
    public async Task Huge_bulk_calls_are_split_into_commands_of_MaxKeysPerCommand_and_listing_uses_SCAN_only()
    {
        await using var store = Store(maxKeysPerCommand: 100);
        const int Keys = 1_050;
        var entries = Enumerable.Range(0, Keys).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>("key/" + i.ToString("D4", System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetBytes("v" + i))).ToList();
        var (mgets, msets, keys, scans) = (await redis.CommandCallsAsync("mget"), await redis.CommandCallsAsync("mset"), await redis.CommandCallsAsync("keys"), await redis.CommandCallsAsync("scan"));

        await store.SetManyAsync("big", entries);
        var found = await store.GetManyAsync("big", entries.Select(e => e.Key));
        var listed = await store.ListKeysAsync("big", "key/");

        Assert.Equal(Keys, found.Count);
        Assert.Equal("v1049", Encoding.UTF8.GetString(found["key/1049"].Span));
        Assert.Equal(entries.Select(e => e.Key), listed);
        Assert.Equal(11, await redis.CommandCallsAsync("mget") - mgets);
        Assert.Equal(11, await redis.CommandCallsAsync("mset") - msets);
        Assert.Equal(0, await redis.CommandCallsAsync("keys") - keys);
        Assert.True(await redis.CommandCallsAsync("scan") - scans > 1, "the listing did not page through SCAN");
        Assert.Equal(Keys, await store.DeleteManyAsync("big", entries.Select(e => e.Key)));
        Assert.Empty(await store.ListKeysAsync("big"));
    }

    [Fact]
    public async Task Namespaces_that_contain_the_separator_or_glob_characters_stay_apart()
    {
        await using var store = Store();
        await store.SetAsync("a:b", "c", Encoding.UTF8.GetBytes("1"));
        await store.SetAsync("a", "b:c", Encoding.UTF8.GetBytes("2"));
        await store.SetAsync("x*", "[k]?", Encoding.UTF8.GetBytes("3"));
        await store.SetAsync("xy", "[k]?", Encoding.UTF8.GetBytes("4"));

        Assert.Equal("1", Encoding.UTF8.GetString((await store.GetAsync("a:b", "c"))!.Value.Span));
        Assert.Equal("2", Encoding.UTF8.GetString((await store.GetAsync("a", "b:c"))!.Value.Span));
        Assert.Equal(["c"], await store.ListKeysAsync("a:b"));
        Assert.Equal(["b:c"], await store.ListKeysAsync("a"));
        Assert.Equal(["[k]?"], await store.ListKeysAsync("x*", "[k"));
        Assert.Empty(await store.ListKeysAsync("x*", "k"));
    }
}
