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
        Assert.Equal(3, first.Delivered);
        Assert.Equal(1, second.Delivered);
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

        Assert.Equal(2, (await bus.PublishAsync("t", "text")).Delivered);
        Assert.Equal(2, (await bus.PublishAsync("t", 42)).Delivered);

        await TestTimeout.WaitUntilAsync(() => objects.Count == 2 && strings.Count == 1 && ints.Count == 1);
        Assert.Equal(["text"], strings.ToArray());
        Assert.Equal([42], ints.ToArray());
        Assert.Equal(["text", 42], objects.ToArray());
    }

    [Fact]
    public async Task Each_subscriber_sees_its_messages_in_publish_order()
    {
        const int count = 2000;
        await using var bus = Exec.Bus().WithMailbox(64).Build();
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
        await using var bus = Exec.Bus().OnDropped(d => dropped.Add(d.MessageId)).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slowHandled = new ConcurrentBag<long>();
        var fastHandled = new ConcurrentBag<long>();
        using var slow = bus.Subscribe<int>("work", async (m, ct) =>
        {
            await gate.Task;
            slowHandled.Add(m.Id);
        }, new SubscriptionOptions { Name = "slow", MailboxCapacity = 4, FullMode = QueueFullMode.DropOldest });
        using var fast = bus.Subscribe<int>("work", m => fastHandled.Add(m.Id), new SubscriptionOptions { Name = "fast" });

        var ids = new List<long>();
        for (var i = 0; i < 100; i++)
        {
            var publish = bus.PublishAsync("work", i);
            Assert.True(publish.IsCompleted, "a publish waited on the slow subscriber");
            ids.Add((await publish).MessageId);
        }

        await TestTimeout.WaitUntilAsync(() => fastHandled.Count == 100);
        Assert.Equal(ids.Order(), fastHandled.Order());

        gate.SetResult();
        await bus.DisposeAsync().WithTimeout();

        // The ledger of the slow subscriber: every id handled or dropped, exactly once.
        Assert.Equal(ids.Order(), slowHandled.Concat(dropped).Order());
        Assert.Equal(dropped.Count, slow.Dropped);
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
        }, new SubscriptionOptions { MailboxCapacity = 2, FullMode = QueueFullMode.Wait });
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
        Assert.Equal(2, result.Delivered);
        await TestTimeout.WaitUntilAsync(() => slowHandled.Count == 4);
        Assert.Equal([1, 2, 3, 4], slowHandled.ToArray());
    }

    [Theory]
    [InlineData(QueueFullMode.Reject, DropReason.Rejected)]
    [InlineData(QueueFullMode.DropOldest, DropReason.DroppedOldest)]
    [InlineData(QueueFullMode.DropNewest, DropReason.DroppedNewest)]
    public async Task Full_modes_report_every_drop_and_the_ledger_balances_by_id(QueueFullMode mode, DropReason reason)
    {
        var drops = new ConcurrentQueue<DroppedMessage>();
        await using var bus = Exec.Bus().OnDropped(drops.Enqueue).Build();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<long>();
        using var subscription = bus.Subscribe<int>("work", async (m, ct) =>
        {
            started.TrySetResult();
            await gate.Task;
            handled.Enqueue(m.Id);
        }, new SubscriptionOptions { Name = "sub", MailboxCapacity = 3, FullMode = mode });

        var ids = new List<long>();
        var first = await bus.PublishAsync("work", 0);
        ids.Add(first.MessageId);
        await started.Task.WithTimeout();
        int rejected = 0, evicted = 0;
        for (var i = 1; i < 10; i++)
        {
            var result = await bus.PublishAsync("work", i);
            ids.Add(result.MessageId);
            rejected += result.Rejected;
            evicted += result.Evicted;
        }

        gate.SetResult();
        await bus.DisposeAsync().WithTimeout();

        Assert.All(drops, d => Assert.Equal(reason, d.Reason));
        Assert.All(drops, d => Assert.Equal("sub", d.SubscriptionName));
        Assert.Equal(6, drops.Count);
        Assert.Equal(mode == QueueFullMode.Reject ? 6 : 0, rejected);
        Assert.Equal(mode == QueueFullMode.Reject ? 0 : 6, evicted);
        Assert.Equal(ids.Order(), handled.Concat(drops.Select(d => d.MessageId)).Order());
        var expectedHandled = mode switch
        {
            QueueFullMode.DropOldest => new long[] { ids[0], ids[7], ids[8], ids[9] },
            QueueFullMode.DropNewest => [ids[0], ids[1], ids[2], ids[9]],
            _ => [ids[0], ids[1], ids[2], ids[3]],
        };
        Assert.Equal(expectedHandled, handled.ToArray());
        Assert.Equal(6, bus.GetStatistics().Dropped);
    }

    [Fact]
    public async Task The_ledger_per_subscriber_balances_by_message_id_under_concurrent_publishers()
    {
        var drops = new ConcurrentDictionary<string, ConcurrentBag<long>>();
        await using var bus = Exec.Bus()
            .OnDropped(d => drops.GetOrAdd(d.SubscriptionName, _ => []).Add(d.MessageId))
            .Build();
        var modes = new[] { QueueFullMode.Wait, QueueFullMode.Reject, QueueFullMode.DropOldest, QueueFullMode.DropNewest };
        var handled = modes.ToDictionary(m => m.ToString(), _ => new ConcurrentBag<long>());
        var subscriptions = modes.Select(mode => bus.Subscribe<int>("load.>", async (m, ct) =>
        {
            if (m.Id % 5 == 0)
            {
                await Task.Yield();
            }

            handled[mode.ToString()].Add(m.Id);
        }, new SubscriptionOptions { Name = mode.ToString(), MailboxCapacity = 8, FullMode = mode, MaxConcurrency = mode == QueueFullMode.Wait ? 3 : 1 })).ToList();

        var published = new ConcurrentBag<long>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 500; i++)
            {
                published.Add((await bus.PublishAsync($"load.p{p}", i)).MessageId);
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
        }, new SubscriptionOptions { MailboxCapacity = 1 });
        using var pong = bus.Subscribe<int>("pong", m => echoes.Enqueue(m.Message), new SubscriptionOptions { MailboxCapacity = 1 });

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
        var drops = new ConcurrentQueue<DroppedMessage>();
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
        }, new SubscriptionOptions { MailboxCapacity = 1, FullMode = QueueFullMode.Wait });

        await bus.PublishAsync("loop", 0);
        await TestTimeout.WaitUntilAsync(() => handled.Count == 1);
        await bus.PublishAsync("loop", 1);
        gate.SetResult();
        await TestTimeout.WaitUntilAsync(() => results.Count == 1 && handled.Count == 2);

        var result = Assert.Single(results);
        Assert.Equal((1, 0, 1), (result.Matched, result.Delivered, result.Rejected));
        var drop = Assert.Single(drops);
        Assert.Equal((result.MessageId, DropReason.Rejected), (drop.MessageId, drop.Reason));
        Assert.Equal([0, 1], handled.ToArray());
    }

    [Fact]
    public async Task MaxConcurrency_runs_that_many_handlers_of_one_subscription_at_once()
    {
        await using var bus = Exec.Bus().Build();
        var barrier = bus.CreateBarrier(3);
        var phases = new ConcurrentQueue<long>();
        using var subscription = bus.Subscribe<int>("work", async (m, ct) => phases.Enqueue(await barrier.SignalAndWaitAsync(cancellationToken: ct)), new SubscriptionOptions { MaxConcurrency = 3 });

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
        using var keeper = bus.Subscribe<int>("churn.>", m => permanent.Add(m.Id), new SubscriptionOptions { MailboxCapacity = 16 });
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
        Assert.Equal(3, stream.Handled);
    }

    [Fact]
    public async Task A_stream_nobody_reads_applies_its_full_mode_and_TryRead_takes_in_order()
    {
        var drops = new ConcurrentQueue<DroppedMessage>();
        await using var bus = Exec.Bus().OnDropped(drops.Enqueue).Build();
        using var stream = bus.SubscribeStream<int>("s", new SubscriptionOptions { MailboxCapacity = 3, FullMode = QueueFullMode.DropOldest });

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
        Assert.Equal(ids.Take(2), drops.Select(d => d.MessageId));
        Assert.Equal(2, stream.Dropped);
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

        Assert.True(result.NotDelivered);
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
        Assert.Equal(2, bus.GetStatistics().DeadLettered);
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
        Assert.Equal(1, subscription.Failed);
        Assert.Equal(1, bus.GetStatistics().Failed);
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
        }, new SubscriptionOptions { MailboxCapacity = 100 });
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
        var drops = new ConcurrentQueue<DroppedMessage>();
        var bus = Exec.Bus().WithTimeProvider(time).WithDrainTimeout(TimeSpan.FromSeconds(5)).OnDropped(drops.Enqueue).Build();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Subscribe<int>("t", async (m, ct) =>
        {
            started.TrySetResult();
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }, new SubscriptionOptions { MailboxCapacity = 10 });
        var ids = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add((await bus.PublishAsync("t", i)).MessageId);
        }

        await started.Task.WithTimeout();
        // DisposeAsync arms the drain deadline on the fake clock before it returns.
        var disposing = bus.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));
        await disposing.WithTimeout();

        Assert.True(bus.TryReadDeadLetter(out var cancelled));
        Assert.Equal(ids[0], cancelled.MessageId);
        Assert.IsAssignableFrom<OperationCanceledException>(cancelled.Exception);
        Assert.Equal(ids.Skip(1), drops.Select(d => d.MessageId));
        Assert.All(drops, d => Assert.Equal(DropReason.DrainTimeout, d.Reason));
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
        using var c = bus.Subscribe<int>("s.x", _ => { }, new SubscriptionOptions { MailboxCapacity = 1, FullMode = QueueFullMode.DropNewest });
        await bus.PublishAsync("s.x", 1);
        await bus.PublishAsync("s.x", 2);
        await bus.PublishAsync("none", 3);
        await TestTimeout.WaitUntilAsync(() => bus.GetStatistics().Handled + bus.GetStatistics().Failed + bus.GetStatistics().Dropped >= 6);
        listener.RecordObservableInstruments();

        var stats = bus.GetStatistics();
        Assert.Equal(3, stats.Published);
        Assert.Equal(stats.Delivered, stats.Handled + stats.Failed + stats.Dropped + stats.MailboxDepth);
        Assert.Equal(1, stats.Failed);
        Assert.Equal(2, stats.DeadLettered);
        Assert.Equal(3, stats.Subscriptions);
        Assert.Equal(3, measurements["parallelexec.bus.published"]);
        Assert.Equal(stats.Delivered, measurements["parallelexec.bus.delivered"]);
        Assert.Equal(2, measurements["parallelexec.bus.deadlettered"]);
        Assert.Equal(stats.Handled + stats.Failed, measurements["parallelexec.bus.handler.duration"]);
        Assert.True(measurements.ContainsKey("parallelexec.bus.mailbox.depth"));
        Assert.Equal(stats.Dropped, measurements.GetValueOrDefault("parallelexec.bus.dropped"));
    }

    [Fact]
    public void Options_are_validated_once_with_every_error_listed()
    {
        var exception = Assert.Throws<ArgumentException>(() => new CoordinationBus(new CoordinationBusOptions
        {
            MailboxCapacity = 0,
            FullMode = (QueueFullMode)42,
            RequestTimeout = TimeSpan.Zero,
            DeadLetterCapacity = -1,
            DrainTimeout = TimeSpan.FromSeconds(-2),
        }));

        Assert.Equal("MailboxCapacity", exception.ParamName);
        Assert.Equal(
            "Invalid CoordinationBusOptions: MailboxCapacity = 0: must be greater than zero; FullMode = 42: must be a defined QueueFullMode value; "
            + "RequestTimeout = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan; DeadLetterCapacity = -1: must be greater than zero; "
            + "DrainTimeout = -00:00:02: must be greater than or equal to zero or Timeout.InfiniteTimeSpan. (Parameter 'MailboxCapacity')",
            exception.Message);
    }

    [Fact]
    public async Task Subscription_options_and_arguments_are_validated()
    {
        await using var bus = Exec.Bus().Build();

        var options = Assert.Throws<ArgumentException>(() => bus.Subscribe<int>("t", _ => { }, new SubscriptionOptions { MailboxCapacity = 0, MaxConcurrency = 0 }));
        Assert.StartsWith("Invalid SubscriptionOptions: MailboxCapacity = 0: must be greater than zero; MaxConcurrency = 0: must be greater than zero.", options.Message, StringComparison.Ordinal);
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

        var exception = Assert.Throws<InvalidOperationException>(() => builder.WithMailbox(4));
        Assert.Contains("already built", exception.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Equal("once", bus.Name);
    }

    [Fact]
    public async Task Options_are_copied_at_build_time()
    {
        var options = new CoordinationBusOptions { MailboxCapacity = 2 };
        await using var bus = new CoordinationBus(options);
        options.MailboxCapacity = 0;

        using var subscription = bus.Subscribe<int>("t", _ => { });

        Assert.Equal(2, subscription.MailboxCapacity);
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
