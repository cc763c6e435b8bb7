using BenchmarkDotNet.Attributes;
using ParallelExec.Batching;
using ParallelExec.Net;

namespace ParallelExec.Benchmarks.Net;

/// <summary>
/// <see cref="Calls"/> single "embedding" calls to an API with a bulk endpoint that answers any request after ~20 ms:
/// one single request per call sequentially (the baseline), single requests with SemaphoreSlim + Task.WhenAll at 32,
/// and ParallelExec's coalescer gathering the single calls into bulk requests admitted through the gate.
/// </summary>
[MemoryDiagnoser]
public class NetCoalesceBenchmarks
{
    private NetLoopbackServer _server = null!;
    private HttpGate _gate = null!;
    private RequestCoalescer<string, string> _coalescer = null!;
    private Uri _bulk = null!;

    // OperationsPerInvoke needs a constant: per-call figures are right only while Calls is this value.
    private const int CallCount = 200;

    /// <summary>How many calls one invocation makes.</summary>
    [Params(CallCount)]
    public int Calls { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = NetLoopbackServer.StartAsync(TimeSpan.FromMilliseconds(20)).GetAwaiter().GetResult();
        _bulk = new Uri(_server.BaseAddress, "bulk");
        _gate = Exec.Http().WithMaxDegreeOfParallelism(32).Build();
        _coalescer = _gate.CoalesceHttp<string, string>(
            "embed",
            items => new HttpRequestMessage(HttpMethod.Post, _bulk) { Content = new StringContent(string.Join('\n', items)) },
            async (items, response, token) => (await response.Content.ReadAsStringAsync(token).ConfigureAwait(false)).Split('\n'),
            new BatchProcessorOptions<string> { MaxBatchSize = 50, MaxDelay = TimeSpan.FromMilliseconds(2), MaxDegreeOfParallelism = 8 });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _coalescer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _gate.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = CallCount)]
    public async Task<int> Sequential()
    {
        var total = 0;
        for (var i = 0; i < Calls; i++)
        {
            total += (await PostSingleAsync(i).ConfigureAwait(false)).Length;
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = CallCount)]
    public async Task<int> WhenAll()
    {
        using var semaphore = new SemaphoreSlim(32);
        var lengths = await Task.WhenAll(Enumerable.Range(0, Calls).Select(async i =>
        {
            await semaphore.WaitAsync().ConfigureAwait(false);
            try
            {
                return (await PostSingleAsync(i).ConfigureAwait(false)).Length;
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
            (await _coalescer.SendAsync("item-" + i).ConfigureAwait(false)).Length)).ConfigureAwait(false);
        return lengths.Sum();
    }

    private async Task<string> PostSingleAsync(int i)
    {
        using var content = new StringContent("item-" + i);
        using var response = await _gate.Client.PostAsync(_bulk, content).ConfigureAwait(false);
        return await response.Content.ReadAsStringAsync().ConfigureAwait(false);
    }
}
