using BenchmarkDotNet.Attributes;
using ParallelExec.Net;

namespace ParallelExec.Benchmarks.Net;

/// <summary>
/// <see cref="Calls"/> HTTP calls against a loopback server that answers each after ~20 ms: one after another with a new
/// client per call (the baseline), one after another on a shared client, SemaphoreSlim + Task.WhenAll at 32, and the
/// ParallelExec gate at concurrency 32. 200 calls keep one sequential invocation near 4 s for CI's dry run.
/// </summary>
[MemoryDiagnoser]
public class NetGateBenchmarks
{
    private const int Concurrency = 32;
    private NetLoopbackServer _server = null!;
    private HttpClient _shared = null!;
    private HttpGate _gate = null!;

    // OperationsPerInvoke needs a constant: per-call figures are right only while Calls is this value.
    private const int CallCount = 200;

    /// <summary>How many calls one invocation makes.</summary>
    [Params(CallCount)]
    public int Calls { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = NetLoopbackServer.StartAsync(TimeSpan.FromMilliseconds(20)).GetAwaiter().GetResult();
        _shared = PooledHttpClient.Create(new PooledHttpClientOptions { MaxConnectionsPerServer = Concurrency });
        _gate = Exec.Http().WithMaxDegreeOfParallelism(Concurrency).Build();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _gate.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _shared.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = CallCount)]
    public async Task<int> Sequential()
    {
        var total = 0;
        for (var i = 0; i < Calls; i++)
        {
            using var client = new HttpClient();
            total += (await client.GetStringAsync(_server.Url("a", i)).ConfigureAwait(false)).Length;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> SharedClientSequential()
    {
        var total = 0;
        for (var i = 0; i < Calls; i++)
        {
            total += (await _shared.GetStringAsync(_server.Url("a", i)).ConfigureAwait(false)).Length;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> WhenAll()
    {
        using var semaphore = new SemaphoreSlim(Concurrency);
        var lengths = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            await semaphore.WaitAsync().ConfigureAwait(false);
            try
            {
                return (await _shared.GetStringAsync(_server.Url("a", i)).ConfigureAwait(false)).Length;
            }
            finally
            {
                semaphore.Release();
            }
        })).ConfigureAwait(false);
        return lengths.Sum();
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> ParallelExec()
    {
        var lengths = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            using var response = await _gate.SendAsync("a", () => new HttpRequestMessage(HttpMethod.Get, _server.Url("a", i))).ConfigureAwait(false);
            return (await response.Content.ReadAsStringAsync().ConfigureAwait(false)).Length;
        })).ConfigureAwait(false);
        return lengths.Sum();
    }
}
