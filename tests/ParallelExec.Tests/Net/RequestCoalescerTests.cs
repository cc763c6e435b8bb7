using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Net;

public sealed class RequestCoalescerTests : IAsyncLifetime
{
    private LoopbackServer _server = null!;

    public async Task InitializeAsync() => _server = await LoopbackServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task CoalescedCallsEachGetTheirOwnResultFromFewerBulkRequests()
    {
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(4).Build();
        await using var embeddings = EchoCoalescer(gate, "embed", new BatchProcessorOptions<string> { MaxBatchSize = 10, MaxDelay = Timeout.InfiniteTimeSpan });

        var ids = Enumerable.Range(0, 50).Select(i => $"item-{i}").ToArray();
        var results = await Task.WhenAll(ids.Select(id => embeddings.SendAsync(id).AsTask())).WithTimeout();

        Assert.Equal(ids.Select(id => "echo:" + id), results);
        Assert.Equal(5, _server.RequestsFor("embed"));
        Assert.Equal([10, 10, 10, 10, 10], _server.BulkSizes);
        Assert.Equal(5, gate.GetStatistics().Providers["embed"].Admitted);
    }

    [Fact]
    public async Task AThrottledBulkRequestPausesItsProviderAndIsRetriedForEveryCaller()
    {
        var time = new FakeTimeProvider();
        await using var gate = Exec.Http().WithTimeProvider(time).RetryOnThrottle().Build();
        await using var embeddings = EchoCoalescer(gate, "embed", new BatchProcessorOptions<string> { MaxBatchSize = 3, MaxDelay = Timeout.InfiniteTimeSpan, TimeProvider = time });
        _server.ThrottleNext("embed", HttpStatusCode.TooManyRequests, retryAfterSeconds: 4);

        var calls = new[] { "a", "b", "c" }.Select(id => embeddings.SendAsync(id).AsTask()).ToArray();
        await TestTimeout.WaitUntilAsync(() => gate.GetStatistics().Throttled == 1);
        Assert.All(calls, c => Assert.False(c.IsCompleted));
        time.Advance(TimeSpan.FromSeconds(4));

        Assert.Equal(["echo:a", "echo:b", "echo:c"], await Task.WhenAll(calls).WithTimeout());
        Assert.Equal(2, _server.RequestsFor("embed"));
    }

    [Fact]
    public async Task AFailedBulkCallFailsEachOfItsCallersAndTheNextBatchStillRuns()
    {
        await using var gate = Exec.Http().Build();
        var batches = new ConcurrentQueue<int>();
        await using var coalescer = gate.Coalesce<int, int>(
            "bulk",
            (items, _) =>
            {
                batches.Enqueue(items.Count);
                if (items.Contains(-1))
                {
                    throw new InvalidDataException("bad batch");
                }

                return ValueTask.FromResult<IReadOnlyList<int>>(items.Select(i => i * 10).ToArray());
            },
            new BatchProcessorOptions<int> { MaxBatchSize = 2, MaxDelay = Timeout.InfiniteTimeSpan },
            weigh: items => items.Count);

        var bad = new[] { coalescer.SendAsync(-1).AsTask(), coalescer.SendAsync(1).AsTask() };
        var good = new[] { coalescer.SendAsync(2).AsTask(), coalescer.SendAsync(3).AsTask() };

        foreach (var call in bad)
        {
            await Assert.ThrowsAsync<InvalidDataException>(() => call).WithTimeout();
        }

        Assert.Equal(new[] { 20, 30 }, await Task.WhenAll(good).WithTimeout());
        Assert.Equal([2, 2], batches);
    }

    [Fact]
    public async Task DisposingTheCoalescerSendsTheOpenBatch()
    {
        await using var gate = Exec.Http().Build();
        var embeddings = EchoCoalescer(gate, "embed", new BatchProcessorOptions<string> { MaxBatchSize = 100, MaxDelay = Timeout.InfiniteTimeSpan });

        var pending = embeddings.SendAsync("last").AsTask();
        await embeddings.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal("echo:last", await pending.WithTimeout());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => embeddings.SendAsync("late").AsTask());
    }

    [Fact]
    public async Task StatisticsCarryTheLedgerOfSingleCallsAndCountTheBulkCalls()
    {
        await using var gate = Exec.Http().Build();
        await using var embeddings = EchoCoalescer(gate, "embed", new BatchProcessorOptions<string> { MaxBatchSize = 10, MaxDelay = Timeout.InfiniteTimeSpan, Name = "embeddings" });

        await Task.WhenAll(Enumerable.Range(0, 30).Select(i => embeddings.SendAsync($"item-{i}").AsTask())).WithTimeout();

        IExecComponent component = embeddings;
        var statistics = Assert.IsType<RequestCoalescerStatistics>(component.GetStatistics());
        Assert.Equal(("embeddings", "embed", 3L, 3L), (statistics.Name, statistics.Provider, statistics.Batches, statistics.BulkCalls));
        Assert.Equal((30L, 30L, 0L, 0L), (statistics.Ledger.Submitted, statistics.Ledger.Succeeded, statistics.Ledger.InFlight, statistics.Ledger.Queued));
        Assert.True(statistics.Ledger.IsBalanced, statistics.Ledger.ToString());
        Assert.Equal(3, gate.GetStatistics().Ledger.Succeeded);
    }

    [Fact]
    public async Task CompleteSendsTheOpenBatchRefusesLaterItemsAndCompletionEndsAfterTheBulkCall()
    {
        await using var gate = Exec.Http().Build();
        await using var embeddings = EchoCoalescer(gate, "embed", new BatchProcessorOptions<string> { MaxBatchSize = 100, MaxDelay = Timeout.InfiniteTimeSpan });
        var pending = embeddings.SendAsync("last").AsTask();
        Assert.False(embeddings.Completion.IsCompleted);

        embeddings.Complete();

        await embeddings.Completion.WithTimeout();
        Assert.Equal("echo:last", await pending.WithTimeout());
        await Assert.ThrowsAnyAsync<InvalidOperationException>(() => embeddings.SendAsync("late").AsTask());
        Assert.Equal(1, _server.RequestsFor("embed"));
    }

    private RequestCoalescer<string, string> EchoCoalescer(HttpGate gate, string provider, BatchProcessorOptions<string> batching) =>
        gate.CoalesceHttp<string, string>(
            provider,
            items => new HttpRequestMessage(HttpMethod.Post, new Uri(_server.BaseAddress, "bulk/" + provider)) { Content = new StringContent(string.Join('\n', items)) },
            async (items, response, token) => (await response.Content.ReadAsStringAsync(token)).Split('\n'),
            batching);
}
