using ParallelExec.Coordination;
using ParallelExec.Tests.Reliability;

namespace ParallelExec.Redis.Tests;

/// <summary>
/// The bad-input table of ParallelExec.Redis (the same machinery as ParallelExec's OptionsBadValueTests): every bad
/// value of every public option is refused with an <see cref="ArgumentException"/> naming the option and quoting the
/// value, before anything connects; a new options type or option without rows fails
/// <see cref="Every_public_option_has_rows"/>. No server is needed: validation runs in the constructors.
/// </summary>
public sealed class RedisBadInputTests
{
    private const string Server = "127.0.0.1:1";
    private static readonly TimeSpan Negative = TimeSpan.FromMilliseconds(-2);
    private static readonly CoordinationBus Bus = new();

    private static readonly OptionsTable Table = new OptionsTable()
        .Type(() => new RedisMemoryStoreOptions { Configuration = Server }, o => new RedisMemoryStore(o).DisposeAsync().AsTask().GetAwaiter().GetResult())
        .Type(() => new RedisWorkQueueOptions { Configuration = Server, StreamKey = "s" }, o => new RedisWorkQueue<int>(o).DisposeAsync().AsTask().GetAwaiter().GetResult())
        .Type(() => new RedisBusBridgeOptions { Configuration = Server }, o => new RedisBusBridge(Bus, o).DisposeAsync().AsTask().GetAwaiter().GetResult())
        .Bad<ComponentOptions>(nameof(ComponentOptions.Name), "", "   ")
        .Bad<ComponentOptions>(nameof(ComponentOptions.TimeProvider), [null])
        .Bad<ComponentOptions>(nameof(ComponentOptions.DrainTimeout), Negative, TimeSpan.MinValue, TimeSpan.MaxValue)
        .Bad<RedisComponentOptions>(nameof(RedisComponentOptions.Configuration), null, "", "  ")
        .Bad<RedisComponentOptions>(nameof(RedisComponentOptions.Database), -2, int.MinValue)
        .Bad<RedisComponentOptions>(nameof(RedisComponentOptions.MaxRetries), -1, int.MinValue)
        .Bad<RedisComponentOptions>(nameof(RedisComponentOptions.RetryDelay), TimeSpan.Zero, Negative, TimeSpan.MaxValue)
        .Bad<RedisMemoryStoreOptions>(nameof(RedisMemoryStoreOptions.KeyPrefix), [null])
        .Bad<RedisMemoryStoreOptions>(nameof(RedisMemoryStoreOptions.MaxKeysPerCommand), 0, -1)
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.StreamKey), null, "")
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.GroupName), null, "")
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.ConsumerName), "")
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.MaxDegreeOfParallelism), 0, -1)
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.ClaimIdleTime), TimeSpan.Zero, Negative, TimeSpan.MaxValue)
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.PollInterval), TimeSpan.Zero, Negative, TimeSpan.MaxValue)
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.MaxDeliveries), 0, -1)
        .Bad<RedisWorkQueueOptions>(nameof(RedisWorkQueueOptions.DeadLetterStreamKey), "")
        .Bad<RedisBusBridgeOptions>(nameof(RedisBusBridgeOptions.ChannelPrefix), [null])
        .Bad<RedisBusBridgeOptions>(nameof(RedisBusBridgeOptions.SubscriberName), "")
        .Bad<RedisBusBridgeOptions>(nameof(RedisBusBridgeOptions.StreamMaxLength), 0, -1)
        .Bad<RedisBusBridgeOptions>(nameof(RedisBusBridgeOptions.PollInterval), TimeSpan.Zero, Negative, TimeSpan.MaxValue)
        .Bad<RedisBusBridgeOptions>(nameof(RedisBusBridgeOptions.RequestTimeout), TimeSpan.Zero, Negative, TimeSpan.MaxValue);

    public static TheoryData<string, string, string> Rows() => Table.Rows();

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_bad_option_is_refused_naming_it_and_its_value(string type, string property, string value) =>
        Table.AssertRefused(type, property, value);

    [Fact]
    public void Every_public_option_has_rows() => Table.AssertEveryOptionHasRows(typeof(RedisMemoryStore).Assembly, "RedisBadInputTests.Table");

    [Fact]
    public void Factories_refuse_null_arguments_by_name()
    {
        Func<RedisWorkItem<int>, CancellationToken, ValueTask> handler = (_, _) => ValueTask.CompletedTask;
        Assert.Throws<ArgumentNullException>("configuration", () => RedisWorkQueue<int>.CreateBuilder((string)null!, "s"));
        Assert.Throws<ArgumentNullException>("streamKey", () => RedisWorkQueue<int>.CreateBuilder(Server, null!));
        Assert.Throws<ArgumentNullException>("handler", () => RedisQueueConsumer<int>.CreateBuilder(Server, "s", null!));
        Assert.Throws<ArgumentNullException>("bus", () => RedisBusBridge.CreateBuilder(null!, Server));
        Assert.Throws<ArgumentNullException>("configuration", () => RedisBusBridge.CreateBuilder(Bus, (string)null!));
        // A builder validates at Build(), with the option's name and value, and stays unbuilt after a refusal.
        var builder = RedisQueueConsumer<int>.CreateBuilder(Server, "s", handler).WithMaxDegreeOfParallelism(0);
        var refused = Assert.Throws<ArgumentException>("MaxDegreeOfParallelism", () => builder.Build());
        Assert.Contains("MaxDegreeOfParallelism = 0", refused.Message, StringComparison.Ordinal);
    }
}
