using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

public sealed class HttpGateTests : IAsyncLifetime
{
    private LoopbackServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RealHttpCallsNeverExceedTheConcurrencyLimitAndEachGetsItsOwnAnswer()
    {
        _server.Latency = TimeSpan.FromMilliseconds(20);
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(4).Build();

        var calls = Enumerable.Range(0, 40).Select(async id =>
        {
            using var response = await gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", id)));
            return (id, body: await response.Content.ReadAsStringAsync());
        }).ToArray();
        var results = await Task.WhenAll(calls).WithTimeout();

        Assert.All(results, r => Assert.Equal($"a:{r.id}", r.body));
        Assert.Equal(Enumerable.Range(0, 40), results.Select(r => r.id).Order());
        Assert.InRange(_server.PeakInFlight, 2, 4);
        var stats = gate.GetStatistics();
        Assert.InRange(stats.PeakInFlight, 2, 4);
        Assert.Equal(40, stats.Admitted);
        Assert.Equal(0, stats.Ledger.InFlight);
        Assert.Equal(0, stats.Ledger.Queued);
    }

    [Fact]
    public async Task OpenConnectionsStayAtOrUnderTheCapOfTheGatesPooledClient()
    {
        _server.Latency = TimeSpan.FromMilliseconds(10);
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(3).Build();

        await Task.WhenAll(Enumerable.Range(0, 60).Select(async id =>
        {
            using var response = await gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", id)));
            response.EnsureSuccessStatusCode();
        })).WithTimeout();

        Assert.InRange(_server.PeakConnections, 1, 3);
        // Pooled: the connections are reused, not opened per call.
        Assert.InRange(_server.TotalConnections, 1, 3);
    }

    [Fact]
    public async Task AClientPerCallOpensAConnectionPerCall()
    {
        // The control for the test above: without pooling the server sees a connection per call.
        for (var id = 0; id < 5; id++)
        {
            using var client = new HttpClient();
            (await client.GetAsync(_server.Url("a", id))).EnsureSuccessStatusCode();
        }

        Assert.Equal(5, _server.TotalConnections);
    }

    [Fact]
    public async Task CallsNeverStartFasterThanTheProvidersRequestLimit()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http()
            .AddProvider("a", new ProviderLimits { RequestLimit = 5, RequestPeriod = TimeSpan.FromSeconds(1) })
            .WithTimeProvider(time)
            .Build();
        var starts = new ConcurrentQueue<(int Id, DateTimeOffset At)>();

        var calls = Enumerable.Range(0, 17).Select(id => gate.RunAsync("a", _ =>
        {
            starts.Enqueue((id, time.GetUtcNow()));
            return ValueTask.FromResult(id);
        })).ToArray();

        // Admission is counted under the gate's lock as the clock moves; the calls themselves run asynchronously, so
        // each step waits for them to have recorded their start before the clock moves on.
        Assert.Equal(5, gate.GetStatistics().Admitted);
        await TestTimeout.WaitUntilAsync(() => starts.Count == 5 && gate.GetStatistics().Ledger.InFlight == 0);
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Equal(5, gate.GetStatistics().Admitted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(10, gate.GetStatistics().Admitted);
        await TestTimeout.WaitUntilAsync(() => starts.Count == 10 && gate.GetStatistics().Ledger.InFlight == 0);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(15, gate.GetStatistics().Admitted);
        Assert.Equal(2, gate.GetStatistics().Ledger.Queued);
        await TestTimeout.WaitUntilAsync(() => starts.Count == 15 && gate.GetStatistics().Ledger.InFlight == 0);
        time.Advance(TimeSpan.FromSeconds(1));

        var ids = await Task.WhenAll(calls).WithTimeout();
        Assert.Equal(Enumerable.Range(0, 17), ids);
        // Sliding window: no second of fake time holds more than five starts.
        var at = starts.Select(s => s.At).Order().ToArray();
        for (var i = 5; i < at.Length; i++)
        {
            Assert.True(at[i] - at[i - 5] >= TimeSpan.FromSeconds(1), $"start {i} came {at[i] - at[i - 5]} after start {i - 5}");
        }
    }

    [Theory]
    [InlineData(true, 3)]
    [InlineData(false, 2)]
    public async Task APermitComesBackOnePeriodAfterTheCallEndsOrAfterItWasAdmitted(bool countFromCompletion, int secondStartsAtSecond)
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http()
            .AddProvider("a", new ProviderLimits { RequestLimit = 1, RequestPeriod = TimeSpan.FromSeconds(2), CountFromCompletion = countFromCompletion })
            .WithTimeProvider(time)
            .Build();
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = gate.RunAsync("a", async _ =>
        {
            await finish.Task;
            return time.GetUtcNow();
        });
        var second = gate.RunAsync("a", _ => ValueTask.FromResult(time.GetUtcNow()));
        var start = time.GetUtcNow();

        time.Advance(TimeSpan.FromSeconds(1));
        finish.SetResult();
        await first.WithTimeout();
        for (var second_ = 2; second_ <= secondStartsAtSecond; second_++)
        {
            Assert.False(second.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(start + TimeSpan.FromSeconds(secondStartsAtSecond), await second.WithTimeout());
    }

    [Fact]
    public async Task WeightIsLimitedPerPeriodAndAHeavyCallKeepsItsPlaceInItsProvider()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http()
            .AddProvider("llm", new ProviderLimits { WeightLimit = 100, WeightPeriod = TimeSpan.FromMinutes(1) })
            .WithTimeProvider(time)
            .Build();
        var order = new ConcurrentQueue<string>();
        Task<string> Call(string id, int weight) => gate.RunAsync("llm", _ =>
        {
            order.Enqueue(id);
            return ValueTask.FromResult(id);
        }, weight);

        var first = Call("first-60", 60);
        var heavy = Call("heavy-50", 50);
        var light = Call("light-10", 10);
        await first.WithTimeout();

        // 60 + 50 > 100: the heavy call waits, and the light one (which would fit) waits behind it rather than starving it.
        Assert.False(heavy.IsCompleted);
        Assert.False(light.IsCompleted);
        Assert.Equal(40, gate.GetStatistics().Providers["llm"].AvailableWeight);

        time.Advance(TimeSpan.FromMinutes(1));
        await Task.WhenAll(heavy, light).WithTimeout();
        Assert.Equal(["first-60"], order.Take(1));
        Assert.Equal(3, order.Count);
        Assert.Equal(40, gate.GetStatistics().Providers["llm"].AvailableWeight);
    }

    [Fact]
    public async Task AWeightAboveTheProvidersLimitIsRefusedAtOnce()
    {
        await using var gate = Exec.Http().AddProvider("llm", new ProviderLimits { WeightLimit = 100 }).Build();

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => gate.RunAsync("llm", _ => ValueTask.FromResult(1), weight: 101));
        Assert.Equal("weight", error.ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => gate.RunAsync("llm", _ => ValueTask.FromResult(1), weight: -1));
    }

    [Fact]
    public async Task A429WithRetryAfterPausesOnlyItsProviderAndTheRetriedCallThenSucceeds()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithTimeProvider(time).RetryOnThrottle().Build();
        _server.ThrottleNext("a", HttpStatusCode.TooManyRequests, retryAfterSeconds: 30);

        var throttled = gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", 1)));
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Throttled == 1);

        // Provider a is paused for 30 s of gate time; provider b is not.
        Assert.Equal(TimeSpan.FromSeconds(30), gate.GetStatistics().Providers["a"].RemainingPause);
        using (var other = await gate.SendAsync("b", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("b", 2))).WithTimeout())
        {
            Assert.Equal("b:2", await other.Content.ReadAsStringAsync());
        }

        Assert.False(throttled.IsCompleted);
        Assert.Equal(1, gate.GetStatistics().Providers["a"].Waiting);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(1, gate.GetStatistics().Providers["a"].Waiting);
        time.Advance(TimeSpan.FromSeconds(1));

        using var response = await throttled.WithTimeout();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("a:1", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, _server.RequestsFor("a"));
        var stats = gate.GetStatistics();
        Assert.Equal(1, stats.Providers["a"].Throttled);
        Assert.Equal(TimeSpan.FromSeconds(30), stats.Providers["a"].TotalPauseTime);
        Assert.Equal(0, stats.Providers["b"].Throttled);
        Assert.Equal(TimeSpan.Zero, stats.Providers["b"].TotalPauseTime);
    }

    [Fact]
    public async Task WithoutAPipelineA429ReachesTheCallerAsProviderThrottledException()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithTimeProvider(time).Build();
        _server.ThrottleNext("a", HttpStatusCode.TooManyRequests, retryAfterSeconds: 7);

        var error = await Assert.ThrowsAsync<ProviderThrottledException>(
            () => gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", 1)))).WithTimeout();

        Assert.Equal("a", error.Provider);
        Assert.Equal(TimeSpan.FromSeconds(7), error.RetryAfter);
        Assert.Equal(HttpStatusCode.TooManyRequests, error.StatusCode);
        Assert.Equal("Provider 'a' throttled the call with 429 TooManyRequests; Retry-After 7 s.", error.Message);
        Assert.Equal(TimeSpan.FromSeconds(7), gate.GetStatistics().Providers["a"].RemainingPause);
    }

    [Fact]
    public async Task A503WithRetryAfterThrottlesAndA503WithoutItIsAnOrdinaryResponse()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithTimeProvider(time).Build();
        _server.ThrottleNext("a", HttpStatusCode.ServiceUnavailable, retryAfterSeconds: null);
        _server.ThrottleNext("b", HttpStatusCode.ServiceUnavailable, retryAfterSeconds: 3);
        _server.ThrottleNext("c", HttpStatusCode.TooManyRequests, retryAfterSeconds: null);

        using (var plain = await gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", 1))).WithTimeout())
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, plain.StatusCode);
        }

        var unavailable = await Assert.ThrowsAsync<ProviderThrottledException>(
            () => gate.SendAsync("b", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("b", 1)))).WithTimeout();
        var bare429 = await Assert.ThrowsAsync<ProviderThrottledException>(
            () => gate.SendAsync("c", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("c", 1)))).WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.StatusCode);
        var stats = gate.GetStatistics();
        Assert.Equal(TimeSpan.Zero, stats.Providers["a"].RemainingPause);
        Assert.Equal(TimeSpan.FromSeconds(3), stats.Providers["b"].RemainingPause);
        Assert.Null(bare429.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(1), stats.Providers["c"].RemainingPause); // DefaultThrottlePause
        Assert.Equal(2, stats.Throttled);
    }

    [Fact]
    public async Task APausedProviderDoesNotHoldUpOthersEvenWithAHigherPriority()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).WithTimeProvider(time).Build();
        gate.Pause("a", TimeSpan.FromSeconds(10));

        var paused = gate.RunAsync("a", _ => ValueTask.FromResult("a"), priority: 100);
        var other = await gate.RunAsync("b", _ => ValueTask.FromResult("b"), priority: 0).WithTimeout();

        Assert.Equal("b", other);
        Assert.False(paused.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal("a", await paused.WithTimeout());
    }

    [Fact]
    public async Task WaitingCallsAreAdmittedByPriorityThenByArrival()
    {
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var order = new ConcurrentQueue<string>();
        var blocker = gate.RunAsync("a", async _ =>
        {
            await release.Task;
            return "blocker";
        });
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Ledger.InFlight == 1);

        var waiting = new (string Id, int Priority)[] { ("p1", 1), ("p5-first", 5), ("p3", 3), ("p5-second", 5), ("p0", 0) }
            .Select(c => gate.RunAsync(c.Priority % 2 == 0 ? "a" : "b", _ =>
            {
                order.Enqueue(c.Id);
                return ValueTask.FromResult(c.Id);
            }, priority: c.Priority))
            .ToArray();
        Assert.Equal(5, gate.GetStatistics().Ledger.Queued);

        release.SetResult();
        await Task.WhenAll(waiting.Append(blocker)).WithTimeout();
        Assert.Equal(["p5-first", "p5-second", "p3", "p1", "p0"], order);
    }

    [Fact]
    public async Task CancellingAWaitingCallRemovesItAndItNeverRuns()
    {
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).WithQueue(2, QueueFullMode.Reject).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = new ConcurrentQueue<string>();
        var blocker = gate.RunAsync("a", async _ =>
        {
            await release.Task;
            return "blocker";
        });
        using var cts = new CancellationTokenSource();
        var cancelled = gate.RunAsync("a", _ =>
        {
            ran.Enqueue("cancelled");
            return ValueTask.FromResult("cancelled");
        }, cancellationToken: cts.Token);
        var kept = gate.RunAsync("a", _ =>
        {
            ran.Enqueue("kept");
            return ValueTask.FromResult("kept");
        });
        Assert.Equal(2, gate.GetStatistics().Ledger.Queued);

        await cts.CancelAsync();
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled).WithTimeout();
        Assert.Equal(cts.Token, error.CancellationToken);
        Assert.Equal(1, gate.GetStatistics().Ledger.Queued);

        // The freed place is really free: a full queue (capacity 2, Reject) takes one more call.
        var another = gate.RunAsync("a", _ =>
        {
            ran.Enqueue("another");
            return ValueTask.FromResult("another");
        });
        release.SetResult();
        await Task.WhenAll(blocker, kept, another).WithTimeout();
        Assert.Equal(["kept", "another"], ran);
        Assert.Equal(0, gate.GetStatistics().Ledger.Dropped);
        Assert.Equal(1, gate.GetStatistics().Ledger.Cancelled);
    }

    [Fact]
    public async Task AnAlreadyCancelledTokenFailsWithoutQueueing()
    {
        await using var gate = Exec.Http().Build();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gate.RunAsync("a", _ => ValueTask.FromResult(1), cancellationToken: cts.Token));
        Assert.Equal(0, gate.GetStatistics().Admitted);
    }

    [Theory]
    [InlineData(QueueFullMode.Reject, "c", DropReason.Rejected)]
    [InlineData(QueueFullMode.DropOldest, "a", DropReason.DroppedOldest)]
    [InlineData(QueueFullMode.DropNewest, "b", DropReason.DroppedNewest)]
    public async Task AFullQueueDropsTheCallItsModeNamesAndEveryOtherCallRuns(QueueFullMode mode, string droppedId, DropReason reason)
    {
        var dropped = new ConcurrentQueue<(string Provider, DropReason Reason)>();
        await using var gate = Exec.Http()
            .WithMaxDegreeOfParallelism(1)
            .WithQueue(2, mode)
            .OnDropped(d => dropped.Enqueue(((string)d.Key!, d.Reason)))
            .Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = gate.RunAsync("p", async _ =>
        {
            await release.Task;
            return "blocker";
        });
        var calls = new[] { "a", "b", "c" }.ToDictionary(id => id, id => gate.RunAsync("p-" + id, _ => ValueTask.FromResult(id)));

        release.SetResult();
        await blocker.WithTimeout();
        foreach (var (id, call) in calls)
        {
            if (id == droppedId)
            {
                var error = await Assert.ThrowsAsync<ItemDroppedException>(() => call).WithTimeout();
                Assert.Equal(reason, error.Reason);
            }
            else
            {
                Assert.Equal(id, await call.WithTimeout());
            }
        }

        Assert.Equal([("p-" + droppedId, reason)], dropped);
        var ledger = gate.GetStatistics().Ledger;
        Assert.Equal(reason == DropReason.Rejected ? (0, 1) : (1, 0), (ledger.Dropped, ledger.Rejected));
        Assert.Equal(1, gate.GetStatistics().Providers["p-" + droppedId].Dropped);
    }

    [Fact]
    public async Task InWaitModeACallBeyondCapacityWaitsForRoomAndThenRuns()
    {
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).WithQueue(1, QueueFullMode.Wait).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = gate.RunAsync("p", async _ =>
        {
            await release.Task;
            return 0;
        });
        var queued = gate.RunAsync("p", _ => ValueTask.FromResult(1));
        var overflow = gate.RunAsync("p", _ => ValueTask.FromResult(2));
        Assert.Equal(2, gate.GetStatistics().Ledger.Queued);

        release.SetResult();
        Assert.Equal(new[] { 0, 1, 2 }, await Task.WhenAll(blocker, queued, overflow).WithTimeout());
    }

    [Fact]
    public async Task DisposeDrainsWaitingCallsThenRefusesNewOnes()
    {
        var gate = Exec.Http().WithMaxDegreeOfParallelism(1).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = gate.RunAsync("p", async _ =>
        {
            await release.Task;
            return 0;
        });
        var queued = gate.RunAsync("p", _ => ValueTask.FromResult(1));

        var disposing = gate.DisposeAsync().AsTask();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => gate.RunAsync("p", _ => ValueTask.FromResult(2)));
        Assert.False(disposing.IsCompleted);
        release.SetResult();

        Assert.Equal(new[] { 0, 1 }, await Task.WhenAll(blocker, queued).WithTimeout());
        await disposing.WithTimeout();
        await gate.DisposeAsync(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => gate.Pause("p", TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public async Task DisposeWaitsForTheRetryOfAThrottledCall()
    {
        var time = new FakeTimeProvider();
        var gate = Exec.Http().WithTimeProvider(time).RetryOnThrottle().Build();
        var attempts = 0;
        var call = gate.RunAsync("p", _ => Interlocked.Increment(ref attempts) == 1
            ? throw new ProviderThrottledException("p", TimeSpan.FromSeconds(5))
            : ValueTask.FromResult(42));
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Throttled == 1);

        var disposing = gate.DisposeAsync().AsTask();
        Assert.False(disposing.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(5));

        Assert.Equal(42, await call.WithTimeout());
        await disposing.WithTimeout();
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task DrainTimeoutDropsWaitingCallsCancelsRunningOnesAndReportsEachByItem()
    {
        var time = new FakeTimeProvider();
        var dropped = new ConcurrentQueue<DroppedItem>();
        var gate = Exec.Http()
            .WithMaxDegreeOfParallelism(1)
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(5))
            .OnDropped(dropped.Enqueue)
            .Build();
        Func<CancellationToken, ValueTask<int>> runningCall = async token =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return 0;
        };
        Func<CancellationToken, ValueTask<int>> waitingCall = _ => ValueTask.FromResult(1);
        var running = gate.RunAsync("p", runningCall);
        var waiting = gate.RunAsync("q", waitingCall);
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Ledger is { InFlight: 1, Queued: 1 });

        var disposing = gate.DisposeAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(5));

        await disposing.WithTimeout();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running).WithTimeout();
        var error = await Assert.ThrowsAsync<ItemDroppedException>(() => waiting).WithTimeout();
        Assert.Equal(DropReason.DrainTimeout, error.Reason);

        // Both calls are reported once, by item, with their provider: the running one as well as the waiting one.
        Assert.Equal(2, dropped.Count);
        Assert.All(dropped, d => Assert.Equal((gate.Name, DropReason.DrainTimeout), (d.Component, d.Reason)));
        Assert.Equal("p", Assert.Single(dropped, d => ReferenceEquals(d.Item, runningCall)).Key);
        Assert.Equal("q", Assert.Single(dropped, d => ReferenceEquals(d.Item, waitingCall)).Key);
        var ledger = gate.GetStatistics().Ledger;
        Assert.Equal((2L, 2L, 0L), (ledger.Submitted, ledger.Dropped, ledger.Cancelled));
        Assert.True(ledger.IsBalanced, ledger.ToString());
    }

    [Fact]
    public async Task ACallThatThrowsGetsItsOwnExceptionAndFreesItsPermit()
    {
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(1).Build();

        await Assert.ThrowsAsync<InvalidDataException>(() => gate.RunAsync<int>("p", _ => throw new InvalidDataException("boom")));
        Assert.Equal(5, await gate.RunAsync("p", _ => ValueTask.FromResult(5)).WithTimeout());
        Assert.Equal(0, gate.GetStatistics().Ledger.InFlight);
    }

    [Fact]
    public async Task InstrumentsReportAdmissionsThrottlingAndPausesPerProvider()
    {
        var time = new FakeTimeProvider();
        var name = "metrics-" + Guid.NewGuid().ToString("N");
        var measurements = new ConcurrentQueue<(string Instrument, double Value, string? Provider)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ParallelExecTelemetry.MeterName && instrument.Name.StartsWith("parallelexec.http.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? gateName = null, provider = null;
            foreach (var tag in tags)
            {
                if (tag.Key == TelemetryTagNames.Name)
                {
                    gateName = tag.Value as string;
                }
                else if (tag.Key == TelemetryTagNames.Provider)
                {
                    provider = tag.Value as string;
                }
            }

            if (gateName == name)
            {
                measurements.Enqueue((instrument.Name, value, provider));
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        await using var gate = Exec.Http().WithTimeProvider(time).WithName(name).Build();

        await gate.RunAsync("a", _ => ValueTask.FromResult(1));
        await Assert.ThrowsAsync<ProviderThrottledException>(() => gate.RunAsync<int>("b", _ => throw new ProviderThrottledException("b", TimeSpan.FromSeconds(2))));

        Assert.Equal([("parallelexec.http.admitted", 1.0, "a"), ("parallelexec.http.admitted", 1.0, "b")],
            measurements.Where(m => m.Instrument == "parallelexec.http.admitted").OrderBy(m => m.Provider));
        Assert.Equal([("parallelexec.http.throttled", 1.0, "b")], measurements.Where(m => m.Instrument == "parallelexec.http.throttled"));
        Assert.Equal([("parallelexec.http.pause.duration", 2.0, "b")], measurements.Where(m => m.Instrument == "parallelexec.http.pause.duration"));
        Assert.Equal(2, measurements.Where(m => m.Instrument == "parallelexec.http.items.submitted").Sum(m => m.Value));
        Assert.Equal(1, measurements.Where(m => m.Instrument == "parallelexec.http.items.failed").Sum(m => m.Value));
    }

    [Fact]
    public async Task EveryCallEndsExactlyOnceUnderConcurrentSubmissionCancellationAndDrops()
    {
        var dropped = new ConcurrentQueue<string>();
        await using var gate = Exec.Http()
            .WithMaxDegreeOfParallelism(3)
            .WithQueue(8, QueueFullMode.DropOldest)
            .OnDropped(d => dropped.Enqueue((string)d.Key!))
            .Build();
        var ran = new ConcurrentDictionary<int, int>();
        var outcomes = new ConcurrentDictionary<int, string>();

        await Task.WhenAll(Enumerable.Range(0, 4).Select(producer => Task.Run(async () =>
        {
            var calls = new List<(int Id, Task<int> Call, CancellationTokenSource Cts)>();
            for (var i = 0; i < 100; i++)
            {
                var id = (producer * 100) + i;
                var cts = new CancellationTokenSource();
                calls.Add((id, gate.RunAsync($"p{id % 3}", async token =>
                {
                    ran.AddOrUpdate(id, 1, (_, n) => n + 1);
                    await Task.Yield();
                    return id;
                }, priority: id % 4, cancellationToken: cts.Token), cts));
                if (id % 5 == 0)
                {
                    await cts.CancelAsync();
                }
            }

            foreach (var (id, call, cts) in calls)
            {
                try
                {
                    Assert.Equal(id, await call);
                    Assert.True(outcomes.TryAdd(id, "ok"));
                }
                catch (OperationCanceledException)
                {
                    Assert.True(outcomes.TryAdd(id, "cancelled"));
                }
                catch (ItemDroppedException)
                {
                    Assert.True(outcomes.TryAdd(id, "dropped"));
                }
                finally
                {
                    cts.Dispose();
                }
            }
        }))).WithTimeout();

        Assert.Equal(400, outcomes.Count);
        Assert.All(ran, r => Assert.Equal(1, r.Value));
        Assert.All(outcomes.Where(o => o.Value == "ok"), o => Assert.True(ran.ContainsKey(o.Key)));
        Assert.All(outcomes.Where(o => o.Value != "ok"), o => Assert.False(ran.ContainsKey(o.Key)));
        Assert.Contains(outcomes, o => o.Value == "dropped");
        Assert.Contains(outcomes, o => o.Value == "cancelled");
        var stats = gate.GetStatistics();
        Assert.Equal(outcomes.Count(o => o.Value == "dropped"), stats.Ledger.Dropped);
        Assert.Equal(outcomes.Count(o => o.Value == "cancelled"), stats.Ledger.Cancelled);
        Assert.Equal(dropped.Count, stats.Ledger.Dropped);
        Assert.Equal(400, stats.Ledger.Submitted);
        Assert.True(stats.Ledger.IsBalanced, stats.Ledger.ToString());
        Assert.Equal(0, stats.Ledger.Queued);
        Assert.Equal(0, stats.Ledger.InFlight);
    }

    [Fact]
    public void InvalidOptionsAreAllListedInOneException()
    {
        var options = new HttpGateOptions { MaxDegreeOfParallelism = 0, QueueCapacity = -1, DefaultThrottlePause = TimeSpan.Zero };
        options.Providers["x"] = new ProviderLimits { RequestLimit = 0 };

        var error = Assert.Throws<ArgumentException>(() => new HttpGate(options));

        Assert.Equal(
            "Invalid HttpGateOptions: MaxDegreeOfParallelism = 0: must be greater than zero; QueueCapacity = -1: must be greater than zero; "
            + "DefaultThrottlePause = 00:00:00: must be greater than zero; Providers[\"x\"].RequestLimit = 0: must be greater than zero or null. (Parameter 'MaxDegreeOfParallelism')",
            error.Message);
    }

    [Fact]
    public async Task TheOptionsAreCopiedAndTheBuilderIsSingleUse()
    {
        var builder = Exec.Http().WithMaxDegreeOfParallelism(2);
        var limits = new ProviderLimits { RequestLimit = 1 };
        builder.AddProvider("a", limits);
        await using var gate = builder.Build();
        limits.RequestLimit = 1000;

        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Throws<InvalidOperationException>(() => builder.WithMaxDegreeOfParallelism(3));
        await gate.RunAsync("a", _ => ValueTask.FromResult(1));
        Assert.Equal(0, gate.GetStatistics().Providers["a"].AvailableRequests);
    }

    [Fact]
    public void ThePooledHandlerCarriesItsSettings()
    {
        using var handler = PooledHttpClient.CreateHandler(new PooledHttpClientOptions { MaxConnectionsPerServer = 7, PooledConnectionLifetime = TimeSpan.FromSeconds(30) });

        Assert.Equal(7, handler.MaxConnectionsPerServer);
        Assert.Equal(TimeSpan.FromSeconds(30), handler.PooledConnectionLifetime);
        Assert.True(handler.EnableMultipleHttp2Connections);
        Assert.Throws<ArgumentException>(() => PooledHttpClient.Create(new PooledHttpClientOptions { MaxConnectionsPerServer = 0 }));
    }
}
