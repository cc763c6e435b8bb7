using BenchmarkDotNet.Attributes;
using ParallelExec.Net;

namespace ParallelExec.Benchmarks.Net;

/// <summary>
/// <see cref="Calls"/> calls to a provider whose server allows 200 requests in any sliding second and answers the excess
/// with 429 + <c>Retry-After</c>. The allowed rate is 5 ms per call: the gate, configured with the published limit,
/// should come within 5% of it (Mean at most 5.26 ms per call) with no 429 reaching a caller. SemaphoreSlim + WhenAll
/// shows what unbounded parallelism buys: it is fast only because its excess calls fail.
/// </summary>
[MemoryDiagnoser]
public class NetRateLimitBenchmarks
{
    private const int AllowedPerSecond = 200;
    private NetLoopbackServer _server = null!;
    private HttpClient _shared = null!;
    private HttpGate _gate = null!;
    private long _surfaced429s;

    // OperationsPerInvoke needs a constant: per-call figures are right only while Calls is this value.
    private const int CallCount = 200;

    /// <summary>How many calls one invocation makes.</summary>
    [Params(CallCount)]
    public int Calls { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = NetLoopbackServer.StartAsync(TimeSpan.FromMilliseconds(20), AllowedPerSecond).GetAwaiter().GetResult();
        _shared = PooledHttpClient.Create(new PooledHttpClientOptions { MaxConnectionsPerServer = 32 });
        _gate = Exec.Http()
            .WithMaxDegreeOfParallelism(32)
            .AddProvider("llm", new ProviderLimits { RequestLimit = AllowedPerSecond, RequestPeriod = TimeSpan.FromSeconds(1) })
            .RetryOnThrottle()
            .Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var stats = _gate.GetStatistics();
        Console.WriteLine($"// NetRateLimit: gate admitted {stats.Admitted}, throttled (429s seen and retried) {stats.Throttled}; 429s surfaced to WhenAll callers {Interlocked.Read(ref _surfaced429s)}; server 429s {_server.Throttled}");
        _gate.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _shared.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = CallCount)]
    public async Task<int> Sequential()
    {
        // 20 ms per call is 50 calls per second: sequential calls never reach the limit.
        var total = 0;
        for (var i = 0; i < Calls; i++)
        {
            using var response = await _shared.GetAsync(_server.Url("seq", i)).ConfigureAwait(false);
            total += (int)response.StatusCode;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> WhenAll()
    {
        using var semaphore = new SemaphoreSlim(32);
        var codes = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            await semaphore.WaitAsync().ConfigureAwait(false);
            try
            {
                using var response = await _shared.GetAsync(_server.Url("naive", i)).ConfigureAwait(false);
                if ((int)response.StatusCode == 429)
                {
                    Interlocked.Increment(ref _surfaced429s);
                }

                return (int)response.StatusCode;
            }
            finally
            {
                semaphore.Release();
            }
        })).ConfigureAwait(false);
        return codes.Sum();
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> ParallelExec()
    {
        var codes = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            // A 429 that reached this caller would throw ProviderThrottledException and fail the benchmark.
            using var response = await _gate.SendAsync("llm", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("llm", i))).ConfigureAwait(false);
            return (int)response.StatusCode;
        })).ConfigureAwait(false);
        return codes.Sum();
    }
}
