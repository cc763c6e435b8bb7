using System.Collections.Concurrent;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Redis.Tests;

/// <summary>The work queue in one process: two consumers share the items, failures are delivered again, then dead-lettered.</summary>
[Collection(RedisCollection.Name)]
public sealed class RedisWorkQueueTests(RedisServerFixture redis)
{
    private RedisWorkQueueOptions Options(string stream, string consumer) => new()
    {
        Configuration = redis.Configuration,
        StreamKey = stream,
        ConsumerName = consumer,
        MaxDegreeOfParallelism = 3,
        PollInterval = TimeSpan.FromMilliseconds(5),
    };

    [Fact]
    public async Task Ledger_two_consumers_run_every_item_once_within_their_concurrency_bound()
    {
        var stream = RedisServerFixture.UniquePrefix("queue") + "jobs";
        var runs = new ConcurrentDictionary<string, int>();
        var running = 0;
        var maxRunning = 0;
        async ValueTask Handle(RedisWorkItem<int> item, CancellationToken ct)
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref maxRunning, now);
            Assert.Equal(int.Parse(item.Id[2..], System.Globalization.CultureInfo.InvariantCulture), item.Message);
            Assert.Equal(1, item.DeliveryCount);
            await Task.Yield();
            runs.AddOrUpdate(item.Id, 1, (_, n) => n + 1);
            Interlocked.Decrement(ref running);
        }

        await using var producer = new RedisWorkQueue<int>(Options(stream, "producer"));
        await using var a = new RedisQueueConsumer<int>(Options(stream, "a"), Handle);
        await using var b = new RedisQueueConsumer<int>(Options(stream, "b"), Handle);
        for (var i = 0; i < 100; i++)
        {
            await producer.EnqueueAsync("n-" + i, i);
        }

        await TestTimeout.WaitUntilAsync(() => runs.Count == 100 && a.GetStatistics().Ledger.InFlight + b.GetStatistics().Ledger.InFlight == 0);

        Assert.All(runs.Values, n => Assert.Equal(1, n));
        Assert.InRange(maxRunning, 1, 6);
        var (statsA, statsB) = (a.GetStatistics(), b.GetStatistics());
        Assert.Equal(100, statsA.Ledger.Succeeded + statsB.Ledger.Succeeded);
        Assert.Equal(0, statsA.Ledger.Failed + statsB.Ledger.Failed);
        Assert.True(statsA.Ledger.IsBalanced && statsB.Ledger.IsBalanced);
        Assert.Equal(100, producer.Enqueued);
        var db = redis.Connection.GetDatabase();
        Assert.Equal(0, (await db.StreamPendingAsync(stream, "workers")).PendingMessageCount);
    }

    [Fact]
    public async Task A_failing_item_is_delivered_again_after_the_claim_idle_time_then_dead_lettered_after_MaxDeliveries()
    {
        var stream = RedisServerFixture.UniquePrefix("queue-dead") + "jobs";
        var deliveries = new ConcurrentQueue<long>();
        var errors = new ConcurrentQueue<FailedItem>();
        var options = Options(stream, "only");
        options.ClaimIdleTime = TimeSpan.FromMilliseconds(100);
        options.MaxDeliveries = 3;
        options.OnError = errors.Enqueue;
        await using var producer = new RedisWorkQueue<string>(options);
        await using var consumer = new RedisQueueConsumer<string>(options, (item, _) =>
        {
            deliveries.Enqueue(item.DeliveryCount);
            throw new InvalidOperationException("poison " + item.Id);
        });

        await producer.EnqueueAsync("bad-1", "x");
        await TestTimeout.WaitUntilAsync(() => consumer.GetStatistics().DeadLettered == 1);

        Assert.Equal([1L, 2L, 3L], deliveries);
        var db = redis.Connection.GetDatabase();
        var dead = Assert.Single(await db.StreamRangeAsync(stream + ":dead"));
        Assert.Equal("bad-1", (string?)dead.Values.Single(v => v.Name == "id").Value);
        Assert.Equal("4", (string?)dead.Values.Single(v => v.Name == "deliveries").Value);
        Assert.Equal(0, (await db.StreamPendingAsync(stream, "workers")).PendingMessageCount);
        Assert.Equal(4, errors.Count);
        Assert.IsType<RedisDeadLetterException>(errors.Last().Exception);
        Assert.Equal(4, consumer.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public async Task Builders_make_a_producer_and_a_consumer_with_the_chosen_group_name_and_dead_letters()
    {
        var stream = RedisServerFixture.UniquePrefix("queue-built") + "jobs";
        var dead = stream + ":graveyard";
        var handled = new ConcurrentDictionary<string, int>();
        await using var producer = RedisWorkQueue<int>.CreateBuilder(redis.Connection, stream).WithName("producer").Build();
        await using var consumer = RedisQueueConsumer<int>.CreateBuilder(redis.Configuration, stream, (item, _) =>
            {
                if (item.Message < 0)
                {
                    throw new InvalidOperationException("poison " + item.Id);
                }

                handled.AddOrUpdate(item.Id, 1, (_, n) => n + 1);
                return ValueTask.CompletedTask;
            })
            .WithGroup("crew")
            .WithConsumerName("built-consumer")
            .WithMaxDegreeOfParallelism(2)
            .WithPollInterval(TimeSpan.FromMilliseconds(5))
            .WithClaimIdleTime(TimeSpan.FromMilliseconds(50))
            .WithDeadLetters(2, dead)
            .WithName("consumer")
            .Build();

        await producer.EnqueueManyAsync(Enumerable.Range(0, 20).Select(i => KeyValuePair.Create("id" + i, i)).Append(KeyValuePair.Create("poison", -1)));
        await TestTimeout.WaitUntilAsync(() => handled.Count == 20 && consumer.GetStatistics().DeadLettered == 1);

        Assert.All(handled.Values, n => Assert.Equal(1, n));
        Assert.Equal(("producer", "consumer", "built-consumer"), (producer.Name, consumer.Name, consumer.ConsumerName));
        var db = redis.Connection.GetDatabase();
        Assert.Equal("crew", Assert.Single(await db.StreamGroupInfoAsync(stream)).Name);
        Assert.Equal("poison", (string?)Assert.Single(await db.StreamRangeAsync(dead)).Values.Single(v => v.Name == "id").Value);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
