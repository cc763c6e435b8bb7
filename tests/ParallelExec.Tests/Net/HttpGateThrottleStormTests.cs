using System.Collections.Concurrent;
using System.Net;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Net;

/// <summary>
/// Real 429 storms over loopback: a server that answers bursts of requests with 429 and <c>Retry-After: 1</c> (the
/// shortest a header can say) while many callers go through the gate. Nothing may surface to a caller, nothing may be
/// lost, and every throttling answer must pause the provider.
/// </summary>
public sealed class HttpGateThrottleStormTests : IAsyncLifetime
{
    private HostileServer _server = null!;

    public async Task InitializeAsync() => _server = await HostileServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task ManyCallersThroughBurstsOf429LoseNothingAndSeeNoFailure()
    {
        const int Callers = 100;
        const int CallsPerCaller = 25;
        const int Calls = Callers * CallsPerCaller;

        // Three bursts of 429s, each long enough to catch every call in flight; a retry lands after its burst.
        _server.IsBurst = sequence => sequence % 1000 is >= 300 and < 360;
        await using var gate = Exec.Http().WithMaxDegreeOfParallelism(16).RetryOnThrottle(maxRetryAttempts: 20).Build();
        var results = new ConcurrentDictionary<int, string>();
        var failures = new ConcurrentQueue<Exception>();

        var callers = Enumerable.Range(0, Callers).Select(caller => Task.Run(async () =>
        {
            for (var i = 0; i < CallsPerCaller; i++)
            {
                var id = (caller * CallsPerCaller) + i;
                try
                {
                    using var response = await gate.SendAsync("storm", () => new HttpRequestMessage(HttpMethod.Get, _server.Url($"storm/{id}")));
                    Assert.True(results.TryAdd(id, await response.Content.ReadAsStringAsync()), $"call {id} ended twice");
                }
                catch (Exception ex)
                {
                    failures.Enqueue(ex);
                }
            }
        }));
        await Task.WhenAll(callers).WithTimeout(TimeSpan.FromSeconds(60));

        Assert.Empty(failures);
        Assert.Equal(Calls, results.Count);
        Assert.All(results, r => Assert.Equal($"storm:{r.Key}", r.Value));
        var stats = gate.GetStatistics();
        Assert.Equal((Calls, Calls, 0L, 0L, 0L), (stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Failed, stats.Ledger.Dropped, stats.Ledger.InFlight));
        Assert.True(_server.StormThrottled > 0, "the storm never throttled");
        Assert.Equal(_server.StormThrottled, stats.Throttled);
        Assert.Equal(Calls + _server.StormThrottled, _server.StormRequests);
        Assert.True(stats.Providers["storm"].TotalPauseTime >= TimeSpan.FromSeconds(1), $"paused only {stats.Providers["storm"].TotalPauseTime}");
    }

    [Fact]
    public async Task AResultBasedRetryPipelineSeesThe429AndItsRetryWaitsOutThePause()
    {
        _server.IsBurst = sequence => sequence == 0;
        var retries = 0;
        var pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .HandleResult(r => r.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.Zero,
                OnRetry = _ =>
                {
                    Interlocked.Increment(ref retries);
                    return default;
                },
            })
            .Build();
        await using var gate = Exec.Http().WithResilience(pipeline).Build();

        using var response = await gate.SendAsync("typed", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("storm/7"))).WithTimeout();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("storm:7", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, retries);
        var stats = gate.GetStatistics();
        Assert.Equal(1, stats.Throttled);
        Assert.Equal(2, stats.Admitted);
        Assert.Equal((1, 1, 0L), (stats.Ledger.Submitted, stats.Ledger.Succeeded, stats.Ledger.Failed));

        // The retry waited in the gate for the provider's pause: the Retry-After second was honoured.
        Assert.True(stats.Providers["typed"].TotalPauseTime >= TimeSpan.FromSeconds(1), $"paused only {stats.Providers["typed"].TotalPauseTime}");
    }
}
