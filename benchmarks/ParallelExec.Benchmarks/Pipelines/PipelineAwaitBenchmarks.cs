using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Workers;

namespace ParallelExec.Benchmarks.Pipelines;

/// <summary>
/// 10,000 items through parse → a middle stage that awaits 5 ms (an I/O call) with 100 at once → write: the pipeline
/// whose time is set by the waiting stage, each way of linking with the same bounds (100 items queued per stage). One
/// sequential run takes 50 s or more, so measure it with a few monitored iterations:
/// <c>--filter '*PipelineAwaitBenchmarks*' --strategy Monitoring --warmupCount 1 --iterationCount 3</c>. No job is set
/// here, so that CI's dry job (one warm-up and one run) is the only one it gets there.
/// </summary>
[MemoryDiagnoser]
public class PipelineAwaitBenchmarks
{
    private const int Items = 10_000;
    private const int Parallelism = 100;
    private const int Capacity = 100;
    private static readonly TimeSpan s_wait = TimeSpan.FromMilliseconds(5);

    private long _sum;

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task<long> Sequential()
    {
        for (var i = 0; i < Items; i++)
        {
            _sum += await CallAsync(i * 2, default);
        }

        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> Dataflow()
    {
        var bounded = new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity };
        var parse = new TransformBlock<int, int>(i => i * 2, bounded);
        var call = new TransformBlock<int, int>(i => CallAsync(i, default).AsTask(),
            new ExecutionDataflowBlockOptions { BoundedCapacity = Capacity + Parallelism, MaxDegreeOfParallelism = Parallelism });
        var write = new ActionBlock<int>(value => _sum += value, bounded);
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        parse.LinkTo(call, link);
        call.LinkTo(write, link);
        for (var i = 0; i < Items; i++)
        {
            await parse.SendAsync(i);
        }

        parse.Complete();
        await write.Completion;
        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> Channel()
    {
        var parsed = System.Threading.Channels.Channel.CreateBounded<int>(Capacity);
        var called = System.Threading.Channels.Channel.CreateBounded<int>(Capacity);
        var callers = Enumerable.Range(0, Parallelism).Select(_ => Task.Run(async () =>
        {
            await foreach (var value in parsed.Reader.ReadAllAsync())
            {
                await called.Writer.WriteAsync(await CallAsync(value, default));
            }
        })).ToArray();
        var writer = Task.Run(async () =>
        {
            await foreach (var value in called.Reader.ReadAllAsync())
            {
                _sum += value;
            }
        });
        for (var i = 0; i < Items; i++)
        {
            await parsed.Writer.WriteAsync(i * 2);
        }

        parsed.Writer.Complete();
        await Task.WhenAll(callers);
        called.Writer.Complete();
        await writer;
        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> ParallelExecPipeline()
    {
        await Exec.Pipeline<int>()
            .Select(i => i * 2, stage => stage.WithQueue(Capacity))
            .Select(CallAsync, stage => stage.WithQueue(Capacity).WithMaxDegreeOfParallelism(Parallelism))
            .ForEach(value => _sum += value, stage => stage.WithQueue(Capacity))
            .RunAsync(Enumerable.Range(0, Items));
        return _sum;
    }

    /// <summary>The same pipeline with the waiting stage unordered (<see cref="ResultOrder.Completion"/>), as the hand-written
    /// channels are: no reorder window.</summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> ParallelExecPipelineUnordered()
    {
        await Exec.Pipeline<int>()
            .Select(i => i * 2, stage => stage.WithQueue(Capacity))
            .Select(CallAsync, stage => stage.WithQueue(Capacity).WithMaxDegreeOfParallelism(Parallelism).WithResultOrder(ResultOrder.Completion))
            .ForEach(value => _sum += value, stage => stage.WithQueue(Capacity))
            .RunAsync(Enumerable.Range(0, Items));
        return _sum;
    }

    private static async ValueTask<int> CallAsync(int value, CancellationToken cancellationToken)
    {
        await Task.Delay(s_wait, cancellationToken);
        return value + 1;
    }
}
