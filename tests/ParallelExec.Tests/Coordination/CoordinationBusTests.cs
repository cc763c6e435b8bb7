using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Coordination;

public class CoordinationBusTests
{
    [Fact]
    public async Task Publish_reaches_matching_subscribers_only_and_says_how_many_took_it()
    {
        await using var bus = Exec.Bus().Build();
        var exact = new ConcurrentQueue<string>();
        var wildcard = new ConcurrentQueue<string>();
        var tail = new ConcurrentQueue<string>();
        var other = new ConcurrentQueue<string>();
        using var s1 = bus.Subscribe<string>("agents.coder.done", m => exact.Enqueue(m.Topic));
        using var s2 = bus.Subscribe<string>("agents.*.done", m => wildcard.Enqueue(m.Topic));
        using var s3 = bus.Subscribe<string>("agents.>", m => tail.Enqueue(m.Topic));
        using var s4 = bus.Subscribe<string>("builds.>", m => other.Enqueue(m.Topic));

        var first = await bus.PublishAsync("agents.coder.done", "ok");
        var second = await bus.PublishAsync("agents.tester.started", "go");

        Assert.Equal(3, first.Matched);
        Assert.Equal(3, first.Accepted);
        Assert.Equal(1, second.Accepted);
        await TestTimeout.WaitUntilAsync(() => exact.Count == 1 && wildcard.Count == 1 && tail.Count == 2);
        Assert.Empty(other);
        Assert.Equal(["agents.coder.done", "agents.tester.started"], tail.ToArray());
    }

    [Fact]
    public async Task Subscriptions_filter_by_message_type_and_accept_base_types()
    {
        await using var bus = Exec.Bus().Build();
        var strings = new ConcurrentQueue<string>();
        var ints = new ConcurrentQueue<int>();
        var objects = new ConcurrentQueue<object?>();
        using var s1 = bus.Subscribe<string>("t", m => strings.Enqueue(m.Message));
        using var s2 = bus.Subscribe<int>("t", m => ints.Enqueue(m.Message));
        using var s3 = bus.Subscribe<object>("t", m => objects.Enqueue(m.Message));

        Assert.Equal(2, (await bus.PublishAsync("t", "text")).Accepted);
        Assert.Equal(2, (await bus.PublishAsync("t", 42)).Accepted);

        await TestTimeout.WaitUntilAsync(() => objects.Count == 2 && strings.Count == 1 && ints.Count == 1);
        Assert.Equal(["text"], strings.ToArray());
        Assert.Equal([42], ints.ToArray());
        Assert.Equal(["text", 42], objects.ToArray());
    }

    [Fact]
    public async Task Each_subscriber_sees_its_messages_in_publish_order()
    {
        const int count = 2000;
        await using var bus = Exec.Bus().WithQueue(64).Build();
        var seen = Enumerable.Range(0, 3).Select(_ => new List<int>()).ToArray();
        var subscriptions = seen.Select((list, i) => bus.Subscribe<int>("numbers", async (m, ct) =>
        {
            if (m.Message % (i + 7) == 0)
            {
                await Task.Yield();
            }

            list.Add(m.Message);
        })).ToList();

        for (var i = 0; i < count; i++)
        {
            await bus.PublishAsync("numbers", i);
        }

        await bus.DisposeAsync().WithTimeout();
        foreach (var list in seen)
        {
            Assert.Equal(Enumerable.Range(0, count), list);
        }
    }

    [Fact]
    public async Task A_slow_DropOldest_subscriber_never_delays_a_fast_one()
    {
        var dropped = new ConcurrentBag<long>();
        await using var bus = Exec.Bus().OnDropped(d => dropped.Add((int)d.Item!)).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowHandled = new ConcurrentBag<long>();
        var fastHandled = new ConcurrentBag<long>();
        using var slow = bus.Subscribe<int>("work", async (m, ct) =>
        {
            await gate.Task;
            slowHandled.Add(m.Message);
        }, new SubscriptionOptions { Name = "slow", QueueCapacity = 4, FullMode = QueueFullMode.DropOldest });
        using var fast = bus.Subscribe<int>("work", m => fastHandled.Add(m.Message), new SubscriptionOptions { Name = "fast" });

        var ids = new List<long>();
        for (var i = 0; i < 100; i++)
        {
            var publish = bus.PublishAsync("work", i);
            Assert.True(publish.IsCompleted, "a publish waited on the slow subscriber");
            Assert.Equal(2, (await publish).Accepted);
            ids.Add(i);
        }

        await TestTimeout.WaitUntilAsync(() => fastHandled.Count == 100);
        Assert.Equal(ids.Order(), fastHandled.Order());

        gate.SetResult();
        await bus.DisposeAsync().WithTimeout();

        // The ledger of the slow subscriber: every id handled or dropped, exactly once.
        Assert.Equal(ids.Order(), slowHandled.Concat(dropped).Order());
        Assert.Equal(dropped.Count, slow.Ledger.Dropped);
        Assert.Equal(100 - dropped.Count, slow.Ledger.Succeeded);
        Assert.True(slow.Ledger.IsBalanced, slow.Ledger.ToString());
    }

    [Fact]
    public async Task A_full_Wait_mailbox_makes_publish_wait_only_for_that_subscriber()
    {
        await using var bus = Exec.Bus().Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fastHandled = new ConcurrentQueue<int>();
        var slowHandled = new ConcurrentQueue<int>();
        using var slow = bus.Subscribe<int>("work", async (m, ct) =>
        {
            slowStarted.TrySetResult();
            await gate.Task;
            slowHandled.Enqueue(m.Message);
        }, new SubscriptionOptions { QueueCapacity = 2, FullMode = QueueFullMode.Wait });
        using var fast = bus.Subscribe<int>("work", m => fastHandled.Enqueue(m.Message));

        await bus.PublishAsync("work", 1);
        await slowStarted.Task.WithTimeout();
        await bus.PublishAsync("work", 2);
        await bus.PublishAsync("work", 3);
        var blocked = bus.PublishAsync("work", 4).AsTask();

        // The fast subscriber already took and handled message 4 while the publish still waits for the slow mailbox.
        await TestTimeout.WaitUntilAsync(() => fastHandled.Count == 4);
        Assert.False(blocked.IsCompleted);

        gate.SetResult();
        var result = await blocked.WithTimeout();
        Assert.Equal(2, result.Accepted);
        await TestTimeout.WaitUntilAsync(() => slowHandled.Count == 4);
        Assert.Equal([1, 2, 3, 4], slowHandled.ToArray());
    }

    [Theory]
    [InlineData(QueueFullMode.Reject, DropReason.Rejected)]
    [InlineData(QueueFullMode.DropOldest, DropReason.DroppedOldest)]
    [InlineData(QueueFullMode.DropNewest, DropReason.DroppedNewest)]
    public async Task Full_modes_report_every_drop_and_the_ledger_balances_by_id(QueueFullMode mode, DropReason reason)
    {
        var drops = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().WithName("modes").OnDropped(drops.Enqueue).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<long>();
        using var subscription = bus.Subscribe<int>("work", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
            handled.Enqueue(m.Message);
        }, new SubscriptionOptions { Name = "sub", QueueCapacity = 3, FullMode = mode });

        var ids = new List<long>();
        await bus.PublishAsync("work", 0);
        ids.Add(0);
        await started.Task.WithTimeout();
        int rejected = 0, evicted = 0;
        for (var i = 1; i < 10; i++)
        {
            var result = await bus.PublishAsync("work", i);
            ids.Add(i);
            rejected += result.Rejected;
            evicted += result.Dropped;
        }

        gate.SetResult();
        await bus.DisposeAsync().WithTimeout();

        Assert.All(drops, d => Assert.Equal(reason, d.Reason));
        Assert.All(drops, d => Assert.Equal(("modes", "work"), (d.Component, (string)d.Key!)));
        Assert.Equal(6, drops.Count);
        Assert.Equal(mode == QueueFullMode.Reject ? 6 : 0, rejected);
        Assert.Equal(mode == QueueFullMode.Reject ? 0 : 6, evicted);
        Assert.Equal(ids.Order(), handled.Concat(drops.Select(d => (long)(int)d.Item!)).Order());
        var expectedHandled = mode switch
        {
            QueueFullMode.DropOldest => new long[] { ids[0], ids[7], ids[8], ids[9] },
            QueueFullMode.DropNewest => [ids[0], ids[1], ids[2], ids[9]],
            _ => [ids[0], ids[1], ids[2], ids[3]],
        };
        Assert.Equal(expectedHandled, handled.ToArray());
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal(mode == QueueFullMode.Reject ? (0, 6) : (6, 0), (ledger.Dropped, ledger.Rejected));
        Assert.Equal((10L, 4L), (ledger.Submitted, ledger.Succeeded));
        Assert.True(ledger.IsBalanced, ledger.ToString());
    }

    [Fact]
    public async Task The_ledger_per_subscriber_balances_by_message_id_under_concurrent_publishers()
    {
        // The drop payload names the topic (its key), not the subscriber: each mode listens on a topic of its own, and
        // every message is published to the four of them, so a drop's topic says whose mailbox dropped it.
        var drops = new ConcurrentDictionary<string, ConcurrentBag<long>>();
        await using var bus = Exec.Bus()
            .OnDropped(d => drops.GetOrAdd(((string)d.Key!).Split('.')[1], _ => []).Add((int)d.Item!))
            .Build();
        var modes = new[] { QueueFullMode.Wait, QueueFullMode.Reject, QueueFullMode.DropOldest, QueueFullMode.DropNewest };
        var handled = modes.ToDictionary(m => m.ToString(), _ => new ConcurrentBag<long>());
        var subscriptions = modes.Select(mode => bus.Subscribe<int>($"load.{mode}.>", async (m, ct) =>
        {
            if (m.Message % 5 == 0)
            {
                await Task.Yield();
            }

            handled[mode.ToString()].Add(m.Message);
        }, new SubscriptionOptions { Name = mode.ToString(), QueueCapacity = 8, FullMode = mode, MaxDegreeOfParallelism = mode == QueueFullMode.Wait ? 3 : 1 })).ToList();

        var published = new ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                var payload = (p * 1000) + i;
                foreach (var mode in modes)
                {
                    await bus.PublishAsync($"load.{mode}.p{p}", payload);
                }

                published.Add(payload);
            }
        }))).WithTimeout();
        await bus.DisposeAsync().WithTimeout();

        var expected = published.Order().ToArray();
        Assert.Equal(2000, expected.Distinct().Count());
        foreach (var mode in modes)
        {
            var name = mode.ToString();
            var lost = drops.TryGetValue(name, out var bag) ? bag.ToArray() : [];
            Assert.Equal(expected, handled[name].Concat(lost).Order().ToArray());
        }

        Assert.Empty(handled[nameof(QueueFullMode.Wait)].Except(expected));
        Assert.False(drops.ContainsKey(nameof(QueueFullMode.Wait)));
    }

    [Fact]
    public async Task Publish_subscribe_and_unsubscribe_from_inside_a_handler_do_not_deadlock()
    {
        await using var bus = Exec.Bus().Build();
        var echoes = new ConcurrentQueue<int>();
        var late = new ConcurrentQueue<int>();
        Subscription? lateSubscription = null;
        Subscription? self = null;
        self = bus.Subscribe<int>("ping", async (m, ct) =>
        {
            await bus.PublishAsync("pong", m.Message, ct);
            if (m.Message == 3)
            {
                lateSubscription = bus.Subscribe<int>("pong", n => late.Enqueue(n.Message));
            }

            if (m.Message == 6)
            {
                await lateSubscription!.DisposeAsync();
                await self!.DisposeAsync();
            }
        }, new SubscriptionOptions { QueueCapacity = 1 });
        using var pong = bus.Subscribe<int>("pong", m => echoes.Enqueue(m.Message), new SubscriptionOptions { QueueCapacity = 1 });

        for (var i = 1; i <= 6; i++)
        {
            await bus.PublishAsync("ping", i).WithTimeout();
            await TestTimeout.WaitUntilAsync(() => echoes.Count == i);
        }

        await self.Completion.WithTimeout();
        var afterUnsubscribe = await bus.PublishAsync("ping", 7).WithTimeout();

        Assert.Equal(0, afterUnsubscribe.Matched);
        Assert.Equal([1, 2, 3, 4, 5, 6], echoes.ToArray());
        Assert.Equal([4, 5, 6], late.ToArray());
        Assert.False(self.IsActive);
        Assert.Equal(1, bus.SubscriptionCount);
    }

    [Fact]
    public async Task A_handler_publishing_into_its_own_full_Wait_mailbox_is_rejected_instead_of_deadlocking()
    {
        var drops = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().OnDropped(drops.Enqueue).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var results = new ConcurrentQueue<PublishResult>();
        var handled = new ConcurrentQueue<int>();
        using var loop = bus.Subscribe<int>("loop", async (m, ct) =>
        {
            handled.Enqueue(m.Message);
            if (m.Message == 0)
            {
                await gate.Task;

                // The mailbox (capacity 1) holds message 1: waiting for room would wait for this very handler.
                results.Enqueue(await bus.PublishAsync("loop", 100, ct));
            }
        }, new SubscriptionOptions { QueueCapacity = 1, FullMode = QueueFullMode.Wait });

        await bus.PublishAsync("loop", 0);
        await TestTimeout.WaitUntilAsync(() => handled.Count == 1);
        await bus.PublishAsync("loop", 1);
        gate.SetResult();
        await TestTimeout.WaitUntilAsync(() => results.Count == 1 && handled.Count == 2);

        var result = Assert.Single(results);
        Assert.Equal((1, 0, 1), (result.Matched, result.Accepted, result.Rejected));
        var drop = Assert.Single(drops);
        Assert.Equal((100, DropReason.Rejected), ((int)drop.Item!, drop.Reason));
        Assert.Equal([0, 1], handled.ToArray());
    }

    [Fact]
    public async Task MaxDegreeOfParallelism_runs_that_many_handlers_of_one_subscription_at_once()
    {
        await using var bus = Exec.Bus().Build();
        var barrier = bus.CreateBarrier(3);
        var phases = new ConcurrentQueue<long>();
        using var subscription = bus.Subscribe<int>("work", async (m, ct) => phases.Enqueue(await barrier.SignalAndWaitAsync(cancellationToken: ct)), new SubscriptionOptions { MaxDegreeOfParallelism = 3 });

        for (var i = 0; i < 6; i++)
        {
            await bus.PublishAsync("work", i);
        }

        // Only three handlers running at once can pass a three-participant barrier: two phases of three.
        await TestTimeout.WaitUntilAsync(() => phases.Count == 6);
        Assert.Equal([0L, 0L, 0L, 1L, 1L, 1L], phases.Order());
    }

    [Fact]
    public async Task Subscribing_and_unsubscribing_while_publishing_keeps_routing_consistent()
    {
        await using var bus = Exec.Bus().Build();
        var permanent = new ConcurrentBag<long>();
        using var keeper = bus.Subscribe<int>("churn.>", m => permanent.Add(m.Id), new SubscriptionOptions { QueueCapacity = 16 });
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(async () =>
        {
            var round = 0;
            while (!stop.IsCancellationRequested)
            {
                var transient = bus.Subscribe<int>(round++ % 2 == 0 ? "churn.*" : "churn.a", _ => { });
                await Task.Yield();
                await transient.DisposeAsync();
            }
        });

        var ids = new List<long>();
        for (var i = 0; i < 3000; i++)
        {
            var result = await bus.PublishAsync("churn.a", i);
            Assert.InRange(result.Matched, 1, 2);
            ids.Add(result.MessageId);
        }

        await stop.CancelAsync();
        await churn.WithTimeout();
        await TestTimeout.WaitUntilAsync(() => permanent.Count == ids.Count);
        Assert.Equal(ids, permanent.Order());
    }

    [Fact]
    public async Task Stream_subscriptions_yield_messages_in_order_and_end_after_dispose()
    {
        await using var bus = Exec.Bus().Build();
        var stream = bus.SubscribeStream<string>("log.>");
        var reader = Task.Run(async () =>
        {
            var seen = new List<string>();
            await foreach (var message in stream)
            {
                seen.Add($"{message.Topic}={message.Message}");
            }

            return seen;
        });

        await bus.PublishAsync("log.a", "1");
        await bus.PublishAsync("log.b", "2");
        await bus.PublishAsync("log.a.c", "3");
        await stream.DisposeAsync().WithTimeout();
        Assert.Equal(0, (await bus.PublishAsync("log.a", "4")).Matched);

        Assert.Equal(["log.a=1", "log.b=2", "log.a.c=3"], await reader.WithTimeout());
        Assert.Equal(3, stream.Ledger.Succeeded);
    }

    [Fact]
    public async Task A_stream_nobody_reads_applies_its_full_mode_and_TryRead_takes_in_order()
    {
        var drops = new ConcurrentQueue<DroppedItem>();
        await using var bus = Exec.Bus().OnDropped(drops.Enqueue).Build();
        using var stream = bus.SubscribeStream<int>("s", new SubscriptionOptions { QueueCapacity = 3, FullMode = QueueFullMode.DropOldest });

        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await bus.PublishAsync("s", i)).MessageId);
        }

        var read = new List<int>();
        while (stream.TryRead(out var message))
        {
            read.Add(message.Message);
        }

        Assert.Equal([2, 3, 4], read);
        Assert.Equal([0, 1], drops.Select(d => (int)d.Item!));
        Assert.Equal((2L, 3L), (stream.Ledger.Dropped, stream.Ledger.Succeeded));
    }

    [Fact]
    public async Task Unsubscribing_by_dispose_stops_delivery()
    {
        await using var bus = Exec.Bus().Build();
        var seen = new ConcurrentQueue<int>();
        var subscription = bus.Subscribe<int>("t", m => seen.Enqueue(m.Message));
        await bus.PublishAsync("t", 1);
        await subscription.DisposeAsync().WithTimeout();

        var after = await bus.PublishAsync("t", 2);

        Assert.Equal(0, after.Matched);
        Assert.Equal([1], seen.ToArray());
        Assert.Equal(0, bus.SubscriptionCount);
        Assert.True(bus.TryReadDeadLetter(out var deadLetter));
        Assert.Equal(DeadLetterReason.NoSubscribers, deadLetter.Reason);
    }

    [Fact]
    public async Task Messages_nobody_subscribed_to_go_to_the_dead_letters()
    {
        var callback = new ConcurrentQueue<DeadLetter>();
        await using var bus = Exec.Bus().OnDeadLetter(callback.Enqueue).Build();
        using var other = bus.Subscribe<int>("numbers", _ => { });

        var result = await bus.PublishAsync("orphans.x", "nobody");
        await bus.PublishAsync("numbers", "wrong type");

        Assert.True(result.NoneAccepted);
        Assert.Equal(0, result.Matched);
        Assert.True(bus.TryReadDeadLetter(out var first));
        Assert.Equal(DeadLetterReason.NoSubscribers, first.Reason);
        Assert.Equal("orphans.x", first.Topic);
        Assert.Equal("nobody", first.Message);
        Assert.Equal(result.MessageId, first.MessageId);
        Assert.Null(first.Exception);
        Assert.True(bus.TryReadDeadLetter(out var second));
        Assert.Equal("numbers", second.Topic);
        Assert.Equal(2, callback.Count);
        Assert.Equal(2, bus.GetStatistics().DeadLetters);
    }

    [Fact]
    public async Task A_failing_handler_is_retried_by_the_pipeline_then_dead_lettered_with_the_exception()
    {
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.Zero })
            .Build();
        await using var bus = Exec.Bus().WithResilience(pipeline).Build();
        var handled = new ConcurrentQueue<int>();
        using var subscription = bus.Subscribe<int>("jobs", (m, ct) =>
        {
            if (m.Message == 13)
            {
                Interlocked.Increment(ref attempts);
                throw new InvalidOperationException("unlucky");
            }

            handled.Enqueue(m.Message);
            return default;
        }, new SubscriptionOptions { Name = "worker" });

        await bus.PublishAsync("jobs", 12);
        var failed = await bus.PublishAsync("jobs", 13);
        await bus.PublishAsync("jobs", 14);

        var deadLetter = await ReadOneDeadLetter(bus);
        Assert.Equal(DeadLetterReason.HandlerFailed, deadLetter.Reason);
        Assert.Equal(failed.MessageId, deadLetter.MessageId);
        Assert.Equal("worker", deadLetter.SubscriptionName);
        Assert.Equal("unlucky", Assert.IsType<InvalidOperationException>(deadLetter.Exception).Message);
        Assert.Equal(3, attempts);
        await TestTimeout.WaitUntilAsync(() => handled.Count == 2);
        Assert.Equal([12, 14], handled.ToArray());
        Assert.Equal(1, subscription.Ledger.Failed);
        Assert.Equal(1, bus.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public async Task Dispose_drains_every_mailbox_then_refuses_new_work()
    {
        var bus = Exec.Bus().Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<int>();
        bus.Subscribe<int>("t", async (m, ct) =>
        {
            await gate.Task;
            handled.Enqueue(m.Message);
        }, new SubscriptionOptions { QueueCapacity = 100 });
        for (var i = 0; i < 50; i++)
        {
            await bus.PublishAsync("t", i);
        }

        var disposing = bus.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await bus.PublishAsync("t", 99));
        gate.SetResult();
        await disposing.WithTimeout();

        Assert.Equal(Enumerable.Range(0, 50), handled);
        await bus.DisposeAsync().WithTimeout();
        Assert.Throws<ObjectDisposedException>(() => bus.Subscribe<int>("t", _ => { }));
        Assert.Throws<ObjectDisposedException>(() => bus.CreateBarrier(2));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => bus.RequestAsync<int, int>("t", 1));
    }

    [Fact]
    public async Task Dispose_with_a_drain_deadline_cancels_handlers_and_drops_the_rest()
    {
        var time = new FakeTimeProvider();
        var drops = new ConcurrentQueue<DroppedItem>();
        var bus = Exec.Bus().WithTimeProvider(time).WithDrainTimeout(TimeSpan.FromSeconds(5)).OnDropped(drops.Enqueue).Build();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Subscribe<int>("t", async (m, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }, new SubscriptionOptions { QueueCapacity = 10 });
        for (var i = 0; i < 4; i++)
        {
            await bus.PublishAsync("t", i);
        }

        await started.Task.WithTimeout();
        // DisposeAsync arms the drain deadline on the fake clock before it returns.
        var disposing = bus.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        await disposing.WithTimeout();

        // The running message (cancelled through its token) and the three queued ones are each dropped once, none dead-lettered.
        Assert.False(bus.TryReadDeadLetter(out _));
        Assert.Equal([0, 1, 2, 3], drops.Select(d => (int)d.Item!).Order());
        Assert.All(drops, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
        var ledger = bus.GetStatistics().Ledger;
        Assert.Equal((4L, 4L, 0L), (ledger.Submitted, ledger.Dropped, ledger.Failed));
        Assert.True(bus.Completion.IsCompleted);
    }

    [Fact]
    public async Task Statistics_and_meter_instruments_count_what_happened()
    {
        var measurements = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.bus.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == TelemetryTagNames.Name && (string?)tag.Value == "stats-bus")
                {
                    measurements.AddOrUpdate(instrument.Name, value, (_, old) => old + value);
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, 1, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        await using var bus = Exec.Bus().WithName("stats-bus").Build();
        using var a = bus.Subscribe<int>("s.>", _ => { });
        using var b = bus.Subscribe<int>("s.x", m =>
        {
            if (m.Message == 2)
            {
                throw new InvalidOperationException("boom");
            }
        });
        using var c = bus.Subscribe<int>("s.x", _ => { }, new SubscriptionOptions { QueueCapacity = 1, FullMode = QueueFullMode.DropNewest });
        await bus.PublishAsync("s.x", 1);
        await bus.PublishAsync("s.x", 2);
        await bus.PublishAsync("none", 3);
        await TestTimeout.WaitUntilAsync(() => bus.GetStatistics().Ledger.Ended >= 6);
        listener.RecordObservableInstruments();

        // An item of the ledger is one delivery: 1 and 2 each reach three subscribers; 3 reaches nobody.
        var stats = bus.GetStatistics();
        Assert.Equal("stats-bus", stats.Name);
        Assert.Equal(3, stats.Published);
        Assert.Equal(6, stats.Ledger.Submitted);
        Assert.True(stats.Ledger.IsBalanced, stats.Ledger.ToString());
        Assert.Equal(1, stats.Ledger.Failed);
        Assert.Equal(6, stats.Ledger.Succeeded + stats.Ledger.Failed + stats.Ledger.Dropped);
        Assert.Equal(2, stats.DeadLetters);
        Assert.Equal(3, stats.Subscriptions);
        Assert.Equal(3, measurements["parallelexec.bus.messages.published"]);
        Assert.Equal(6, measurements["parallelexec.bus.items.submitted"]);
        Assert.Equal(1, measurements["parallelexec.bus.items.failed"]);
        Assert.Equal(2, measurements["parallelexec.bus.dead_letters"]);
        Assert.Equal(stats.Ledger.Succeeded + stats.Ledger.Failed, measurements["parallelexec.bus.run.duration"]);
        Assert.Equal(stats.Ledger.Succeeded + stats.Ledger.Failed, measurements["parallelexec.bus.wait.duration"]);
        Assert.True(measurements.ContainsKey("parallelexec.bus.queue.length"));
        Assert.True(measurements.ContainsKey("parallelexec.bus.in_flight"));
        Assert.Equal(stats.Ledger.Dropped, measurements.GetValueOrDefault("parallelexec.bus.items.dropped"));
    }

    [Fact]
    public void Options_are_validated_once_with_every_error_listed()
    {
        var exception = Assert.Throws<ArgumentException>(() => new CoordinationBus(new CoordinationBusOptions
        {
            QueueCapacity = 0,
            FullMode = (QueueFullMode)42,
            RequestTimeout = TimeSpan.Zero,
            DeadLetterCapacity = -1,
            DrainTimeout = TimeSpan.FromSeconds(-2),
        }));

        // The shared options (ComponentOptions) are checked first, then the bus's own.
        Assert.Equal("DrainTimeout", exception.ParamName);
        Assert.Equal(
            "Invalid CoordinationBusOptions: DrainTimeout = -00:00:02: must be zero or greater, or Timeout.InfiniteTimeSpan; "
            + "QueueCapacity = 0: must be greater than zero; FullMode = 42: must be a defined QueueFullMode value; "
            + "RequestTimeout = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan; DeadLetterCapacity = -1: must be greater than zero. (Parameter 'DrainTimeout')",
            exception.Message);
    }

    [Fact]
    public async Task Subscription_options_and_arguments_are_validated()
    {
        await using var bus = Exec.Bus().Build();

        var options = Assert.Throws<ArgumentException>(() => bus.Subscribe<int>("t", _ => { }, new SubscriptionOptions { QueueCapacity = 0, MaxDegreeOfParallelism = 0 }));
        Assert.StartsWith("Invalid SubscriptionOptions: QueueCapacity = 0: must be greater than zero; MaxDegreeOfParallelism = 0: must be greater than zero.", options.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>("pattern", () => bus.Subscribe<int>("a..b", _ => { }));
        Assert.Throws<ArgumentNullException>("handler", () => bus.Subscribe<int>("a", (Action<BusMessage<int>>)null!));
        await Assert.ThrowsAsync<ArgumentException>("topic", async () => await bus.PublishAsync("a.*", 1));
        await Assert.ThrowsAsync<ArgumentNullException>("topic", async () => await bus.PublishAsync<int>(null!, 1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("timeout", () => bus.RequestAsync<int, int>("a", 1, TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>("participantCount", () => bus.CreateBarrier(0));
    }

    [Fact]
    public void The_builder_is_single_use()
    {
        var builder = Exec.Bus().WithName("once");
        var bus = builder.Build();

        var exception = Assert.Throws<InvalidOperationException>(() => builder.WithQueue(4));
        Assert.Contains("already built", exception.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Equal("once", bus.Name);
    }

    [Fact]
    public async Task Options_are_copied_at_build_time()
    {
        var options = new CoordinationBusOptions { QueueCapacity = 2 };
        await using var bus = new CoordinationBus(options);
        options.QueueCapacity = 0;

        using var subscription = bus.Subscribe<int>("t", _ => { });

        Assert.Equal(2, subscription.QueueCapacity);
    }

    private static async Task<DeadLetter> ReadOneDeadLetter(CoordinationBus bus)
    {
        using var cts = new CancellationTokenSource(TestTimeout.Unexpected);
        await foreach (var deadLetter in bus.ReadDeadLettersAsync(cts.Token))
        {
            return deadLetter;
        }

        throw new InvalidOperationException("The dead-letter stream ended.");
    }
}
