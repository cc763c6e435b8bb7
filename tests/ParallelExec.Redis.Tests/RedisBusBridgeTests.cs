using System.Collections.Concurrent;
using System.Diagnostics;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;
using StackExchange.Redis;

namespace ParallelExec.Redis.Tests;

/// <summary>The bus bridge: topics and requests crossing processes through the real server.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisBusBridgeTests(RedisServerFixture redis)
{
    private RedisBusBridgeOptions Options(string prefix, string? subscriber = null) =>
        new() { Configuration = redis.Configuration, ChannelPrefix = prefix, SubscriberName = subscriber, PollInterval = TimeSpan.FromMilliseconds(10) };

    [Fact]
    public async Task A_published_message_reaches_a_subscriber_in_another_process_in_the_publishers_trace()
    {
        var prefix = RedisServerFixture.UniquePrefix("bus");
        var outKey = prefix + "received";
        await using var subscriber = await WorkerProcess.StartAsync("subscribe", redis.Configuration, "news", "pubsub", "-", outKey, prefix);
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is "test" or ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        await using var bus = new CoordinationBus();
        await using var bridge = new RedisBusBridge(bus, Options(prefix));
        await bridge.ExportAsync<string>("news");

        using var source = new ActivitySource("test");
        string traceId;
        using (var publisher = source.StartActivity("publisher"))
        {
            traceId = publisher!.TraceId.ToHexString();
            await bus.PublishAsync("news", "hello from the publisher");
        }

        var db = redis.Connection.GetDatabase();
        await TestTimeout.WaitUntilAsync(() => db.ListLength(outKey) == 1);
        Assert.Equal("hello from the publisher|" + traceId, (string?)await db.ListGetByIndexAsync(outKey, 0));
        Assert.Equal(1, bridge.Exported);
        await subscriber.StopAsync();
    }

    [Fact]
    public async Task A_streams_subscriber_restarted_after_SIGKILL_gets_what_was_published_while_it_was_down()
    {
        var prefix = RedisServerFixture.UniquePrefix("bus-streams");
        var outKey = prefix + "received";
        string[] args = ["subscribe", redis.Configuration, "orders", "streams", "billing", outKey, prefix];
        await using var bus = new CoordinationBus();
        await using var bridge = new RedisBusBridge(bus, Options(prefix));
        await bridge.ExportAsync<string>("orders", RedisBusDelivery.Streams);
        var db = redis.Connection.GetDatabase();

        var first = await WorkerProcess.StartAsync(args);
        await bus.PublishAsync("orders", "order-1");
        await TestTimeout.WaitUntilAsync(() => db.ListLength(outKey) == 1);
        first.Kill();
        await first.DisposeAsync();

        await bus.PublishAsync("orders", "order-2");
        await bus.PublishAsync("orders", "order-3");
        await TestTimeout.WaitUntilAsync(() => bridge.Exported == 3);
        await using var restarted = await WorkerProcess.StartAsync(args);
        await TestTimeout.WaitUntilAsync(() => db.ListLength(outKey) >= 3);
        await restarted.StopAsync();

        var received = (await db.ListRangeAsync(outKey)).Select(v => ((string)v!).Split('|')[0]).ToList();
        Assert.Equal(["order-1", "order-2", "order-3"], received);
    }

    [Fact]
    public async Task Request_reply_crosses_processes_and_fails_clearly_without_a_server_or_past_the_timeout()
    {
        var prefix = RedisServerFixture.UniquePrefix("bus-rpc");
        await using var server = await WorkerProcess.StartAsync("respond", redis.Configuration, "upper", prefix);
        await using var bus = new CoordinationBus();
        await using var bridge = new RedisBusBridge(bus, Options(prefix));

        Assert.Equal("HELLO", await bridge.RequestAsync<string, string>("upper", "hello", TimeSpan.FromSeconds(20)).WithTimeout());
        var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => bridge.RequestAsync<string, string>("upper", "r" + i, TimeSpan.FromSeconds(20)))).WithTimeout();
        Assert.Equal(Enumerable.Range(0, 20).Select(i => "R" + i), replies);

        var none = await Assert.ThrowsAsync<NoResponderException>(() => bridge.RequestAsync<string, string>("nobody", "x", TimeSpan.FromSeconds(5)));
        Assert.Equal("nobody", none.Topic);

        // A server in this process whose responder is slower than the requester's timeout.
        await using var slowBus = new CoordinationBus();
        using var slow = slowBus.Respond<string, string>("slow", async (request, ct) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(10), ct);
            return request.Message;
        });
        await using var slowServer = new RedisBusBridge(slowBus, Options(prefix));
        await slowServer.ServeRequestsAsync<string, string>("slow");
        var stopwatch = Stopwatch.StartNew();
        var timeout = await Assert.ThrowsAsync<TimeoutException>(() => bridge.RequestAsync<string, string>("slow", "x", TimeSpan.FromMilliseconds(300)));
        Assert.Contains("'slow'", timeout.Message, StringComparison.Ordinal);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"the timeout took {stopwatch.Elapsed}");
        await server.StopAsync();
    }

    [Fact]
    public async Task Bridges_made_by_builders_carry_a_topic_and_a_request_on_the_chosen_channels()
    {
        var prefix = RedisServerFixture.UniquePrefix("bus-built");
        await using var busA = new CoordinationBus();
        await using var busB = new CoordinationBus();
        await using var bridgeA = RedisBusBridge.CreateBuilder(busA, redis.Configuration).WithChannelPrefix(prefix).WithName("a").Build();
        await using var bridgeB = RedisBusBridge.CreateBuilder(busB, redis.Connection)
            .WithChannelPrefix(prefix)
            .WithRequestTimeout(TimeSpan.FromSeconds(20))
            .WithRetry(1, TimeSpan.FromMilliseconds(10))
            .Build();
        var seen = new ConcurrentQueue<string>();
        using var sub = busB.Subscribe<string>("news", m => seen.Enqueue(m.Message));
        using var upper = busA.Respond<string, string>("upper", (request, _) => ValueTask.FromResult(request.Message.ToUpperInvariant()));
        await bridgeB.ImportAsync<string>("news");
        await bridgeA.ExportAsync<string>("news");
        await bridgeA.ServeRequestsAsync<string, string>("upper");

        await busA.PublishAsync("news", "built");
        await TestTimeout.WaitUntilAsync(() => seen.Contains("built"));
        // No per-call timeout: the builder's request timeout applies.
        Assert.Equal("HI", await bridgeB.RequestAsync<string, string>("upper", "hi").WithTimeout());
        // The import listens on the channel the prefix names: one subscriber there.
        var numsub = (RedisResult[])(await redis.Connection.GetDatabase().ExecuteAsync("PUBSUB", "NUMSUB", prefix + "news"))!;
        Assert.Equal(1L, (long)numsub[1]);
        Assert.Equal(("a", 1L, 1L), (bridgeA.Name, bridgeA.Exported, bridgeB.Imported));
    }

    [Fact]
    public async Task Two_bridges_that_export_and_import_the_same_topic_deliver_each_message_once_and_send_nothing_back()
    {
        var prefix = RedisServerFixture.UniquePrefix("bus-echo");
        await using var busA = new CoordinationBus();
        await using var busB = new CoordinationBus();
        await using var bridgeA = new RedisBusBridge(busA, Options(prefix));
        await using var bridgeB = new RedisBusBridge(busB, Options(prefix));
        var seenA = new ConcurrentQueue<string>();
        var seenB = new ConcurrentQueue<string>();
        using var subA = busA.Subscribe<string>("chat", m => seenA.Enqueue(m.Message));
        using var subB = busB.Subscribe<string>("chat", m => seenB.Enqueue(m.Message));
        foreach (var bridge in new[] { bridgeA, bridgeB })
        {
            await bridge.ExportAsync<string>("chat");
            await bridge.ImportAsync<string>("chat");
        }

        await busA.PublishAsync("chat", "from A");
        await busB.PublishAsync("chat", "from B");
        await TestTimeout.WaitUntilAsync(() => seenA.Count == 2 && seenB.Count == 2 && bridgeA.Imported == 1 && bridgeB.Imported == 1);
        // A marker published after: once it has crossed, any echo of the first two would have crossed too.
        await busA.PublishAsync("chat", "marker");
        await TestTimeout.WaitUntilAsync(() => seenB.Contains("marker"));

        Assert.Equal(["from A", "from B", "marker"], seenA.Order(StringComparer.Ordinal));
        Assert.Equal(["from A", "from B", "marker"], seenB.Order(StringComparer.Ordinal));
        Assert.Equal((2, 1), (bridgeA.Exported, bridgeB.Exported));
        Assert.Equal((1, 2), (bridgeA.Imported, bridgeB.Imported));
    }
}
