using BenchmarkDotNet.Attributes;
using ParallelExec.Batching;

namespace ParallelExec.Benchmarks.Batching;

/// <summary>
/// A handler with a round-trip cost (about 1 ms per call, like a database or API call) plus a small cost per item:
/// one call per item, awaited one after another, against ParallelExec collecting concurrent callers into batches of 100.
/// </summary>
[MemoryDiagnoser]
public class BatchRoundTripBenchmarks
{
    private const int Items = 1_000;
    private const int BatchSize = 100;

    private readonly int[] _single = new int[1];
    private BatchProcessor<int, int> _processor = null!;

    [GlobalSetup]
    public void Setup() =>
        _processor = new BatchProcessor<int, int>(HandleAsync, new BatchProcessorOptions<int> { MaxBatchSize = BatchSize });

    [GlobalCleanup]
    public ValueTask Cleanup() => _processor.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task Sequential()
    {
        for (var i = 0; i < Items; i++)
        {
            _single[0] = i;
            await HandleAsync(_single, default);
        }
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec()
    {
        var results = new Task<int>[Items];
        for (var i = 0; i < Items; i++)
        {
            results[i] = _processor.SubmitAsync(i).AsTask();
        }

        await Task.WhenAll(results);
    }

    private static async ValueTask<IReadOnlyList<int>> HandleAsync(IReadOnlyList<int> items, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromMilliseconds(1), cancellationToken);
        var results = new int[items.Count];
        for (var i = 0; i < results.Length; i++)
        {
            // The per-item share of the call: a few hundred nanoseconds of work.
            Thread.SpinWait(50);
            results[i] = items[i] + 1;
        }

        return results;
    }
}
