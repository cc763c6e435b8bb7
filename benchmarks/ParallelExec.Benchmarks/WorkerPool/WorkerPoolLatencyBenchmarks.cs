using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Workers;

namespace ParallelExec.Benchmarks.WorkerPool;

/// <summary>
/// Latency-bound work: 256 items of about 20 ms simulated I/O each, at most 64 at a time. The ideal is
/// 256 / 64 × 20 ms ≈ 80 ms; the sequential way takes about 5.1 s.
/// </summary>
[MemoryDiagnoser]
public class WorkerPoolLatencyBenchmarks
{
    private const int Items = 256;
    private const int Concurrency = 64;
    private static readonly TimeSpan s_io = TimeSpan.FromMilliseconds(20);

    private static async ValueTask<int> SimulatedIoAsync(int item, CancellationToken cancellationToken)
    {
        await Task.Delay(s_io, cancellationToken);
        return item;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task Sequential()
    {
        for (var i = 0; i < Items; i++)
        {
            await SimulatedIoAsync(i, CancellationToken.None);
        }
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task WhenAll()
    {
        using var semaphore = new SemaphoreSlim(Concurrency);
        await Task.WhenAll(Enumerable.Range(0, Items).Select(async i =>
        {
            await semaphore.WaitAsync();
            try
            {
                return await SimulatedIoAsync(i, CancellationToken.None);
            }
            finally
            {
                semaphore.Release();
            }
        }));
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task ParallelForEachAsync() =>
        Parallel.ForEachAsync(Enumerable.Range(0, Items), new ParallelOptions { MaxDegreeOfParallelism = Concurrency },
            async (i, ct) => await SimulatedIoAsync(i, ct));

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ActionBlock()
    {
        var block = new ActionBlock<int>(async i => await SimulatedIoAsync(i, CancellationToken.None),
            new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Concurrency });
        for (var i = 0; i < Items; i++)
        {
            await block.SendAsync(i);
        }

        block.Complete();
        await block.Completion;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec()
    {
        await using var pool = new ParallelExec.Workers.WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = Concurrency, QueueCapacity = Items });
        var pending = new ValueTask<int>[Items];
        for (var i = 0; i < Items; i++)
        {
            var item = i;
            pending[i] = pool.RunAsync(ct => SimulatedIoAsync(item, ct));
        }

        foreach (var result in pending)
        {
            await result;
        }
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task ParallelExec_ForEachAsync() =>
        Exec.ForEachAsync(Enumerable.Range(0, Items), Concurrency, SimulatedIoAsync);
}
