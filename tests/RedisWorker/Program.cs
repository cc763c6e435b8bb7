// The other process of the Redis cross-process tests and queue benchmarks. Each mode prints "ready" once it is set
// up, then runs until a line "stop" (or the end) of its standard input, and exits 0. The parent kills it with SIGKILL
// to test a consumer that dies.
//
//   consume   <config> <stream> <consumer> <ledgerKey> <workMs> <claimIdleMs> <maxDegreeOfParallelism>
//             A RedisQueueConsumer<string> whose handler waits workMs, then RPUSHes "<item id>|<consumer>" to ledgerKey.
//   subscribe <config> <topic> <pubsub|streams> <subscriberName|-> <outKey> <channelPrefix>
//             Imports the topic onto a local CoordinationBus; a local subscriber RPUSHes "<message>|<trace id>" to outKey.
//   respond   <config> <topic> <channelPrefix>
//             Serves the topic's remote requests with a local responder that answers the request in upper case.
using System.Diagnostics;
using ParallelExec.Coordination;
using ParallelExec.Redis;
using StackExchange.Redis;

var mode = args.Length > 0 ? args[0] : "";
// Spans are started only when someone listens: listen, so the trace context the tests check is carried on.
using var listener = new ActivityListener
{
    ShouldListenTo = source => source.Name == "ParallelExec",
    Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
};
ActivitySource.AddActivityListener(listener);

switch (mode)
{
    case "consume":
        await ConsumeAsync(args[1], args[2], args[3], args[4], int.Parse(args[5]), int.Parse(args[6]), int.Parse(args[7]));
        return 0;
    case "subscribe":
        await SubscribeAsync(args[1], args[2], args[3] == "streams" ? RedisBusDelivery.Streams : RedisBusDelivery.PubSub, args[4] == "-" ? null : args[4], args[5], args[6]);
        return 0;
    case "respond":
        await RespondAsync(args[1], args[2], args[3]);
        return 0;
    default:
        Console.Error.WriteLine("usage: RedisWorker consume|subscribe|respond ...");
        return 2;
}

static async Task WaitForStopAsync()
{
    Console.WriteLine("ready");
    while (await Console.In.ReadLineAsync() is { } line && line != "stop")
    {
    }
}

static async Task ConsumeAsync(string configuration, string stream, string consumer, string ledgerKey, int workMs, int claimIdleMs, int maxDegreeOfParallelism)
{
    // Every connection of this consumer carries its name, so a test can see when the server has dropped them all.
    configuration += ",name=" + consumer;
    await using var ledger = await ConnectionMultiplexer.ConnectAsync(configuration);
    var db = ledger.GetDatabase();
    var options = new RedisWorkQueueOptions
    {
        Configuration = configuration,
        StreamKey = stream,
        ConsumerName = consumer,
        MaxDegreeOfParallelism = maxDegreeOfParallelism,
        ClaimIdleTime = TimeSpan.FromMilliseconds(claimIdleMs),
        PollInterval = TimeSpan.FromMilliseconds(10),
    };
    await using var queue = new RedisQueueConsumer<string>(options, async (item, ct) =>
    {
        if (workMs > 0)
        {
            await Task.Delay(workMs, ct);
        }

        await db.ListRightPushAsync(ledgerKey, item.Id + "|" + consumer);
    });
    await WaitForStopAsync();
}

static async Task SubscribeAsync(string configuration, string topic, RedisBusDelivery delivery, string? subscriberName, string outKey, string prefix)
{
    await using var output = await ConnectionMultiplexer.ConnectAsync(configuration);
    var db = output.GetDatabase();
    await using var bus = new CoordinationBus();
    await using var bridge = new RedisBusBridge(bus, new RedisBusBridgeOptions { Configuration = configuration, SubscriberName = subscriberName, ChannelPrefix = prefix, PollInterval = TimeSpan.FromMilliseconds(10) });
    using var subscription = bus.Subscribe<string>(topic, async (message, _) =>
        await db.ListRightPushAsync(outKey, message.Message + "|" + Activity.Current?.TraceId.ToHexString()));
    await bridge.ImportAsync<string>(topic, delivery);
    await WaitForStopAsync();
}

static async Task RespondAsync(string configuration, string topic, string prefix)
{
    await using var bus = new CoordinationBus();
    await using var bridge = new RedisBusBridge(bus, new RedisBusBridgeOptions { Configuration = configuration, ChannelPrefix = prefix });
    using var responder = bus.Respond<string, string>(topic, (request, _) => ValueTask.FromResult(request.Message.ToUpperInvariant()));
    await bridge.ServeRequestsAsync<string, string>(topic);
    await WaitForStopAsync();
}
