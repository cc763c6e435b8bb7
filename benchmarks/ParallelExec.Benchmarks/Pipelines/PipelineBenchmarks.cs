using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Pipelines;

namespace ParallelExec.Benchmarks.Pipelines;

/// <summary>
/// 1,000,000 lines through parse → batch of 100 → write, CPU-bound (the parse is <see cref="int.Parse(string)"/>, the
/// write sums the batch): the per-item cost of each way to link the stages, with the same bounds everywhere (1,000 items
/// before the batcher, 1,000 in it, 10 batches before the writer).
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private const int Items = 1_000_000;
    private const int BatchSize = 100;
    private const int ParseCapacity = 1_000;
    private const int BatchCapacity = 1_000;
    private const int WriteCapacity = 10;

    private string[] _lines = [];
    private long _sum;

    [GlobalSetup]
    public void Setup() => _lines = Enumerable.Range(0, Items).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public long Sequential()
    {
        var batch = new int[BatchSize];
        var count = 0;
        foreach (var line in _lines)
        {
            batch[count++] = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
            if (count == BatchSize)
            {
                Write(batch);
                count = 0;
            }
        }

        Write(batch.AsSpan(0, count).ToArray());
        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> Dataflow()
    {
        var parse = new TransformBlock<string, int>(Parse, new ExecutionDataflowBlockOptions { BoundedCapacity = ParseCapacity });
        var batch = new BatchBlock<int>(BatchSize, new GroupingDataflowBlockOptions { BoundedCapacity = BatchCapacity });
        var write = new ActionBlock<int[]>(Write, new ExecutionDataflowBlockOptions { BoundedCapacity = WriteCapacity });
        var link = new DataflowLinkOptions { PropagateCompletion = true };
        parse.LinkTo(batch, link);
        batch.LinkTo(write, link);
        foreach (var line in _lines)
        {
            if (!parse.Post(line))
            {
                await parse.SendAsync(line);
            }
        }

        parse.Complete();
        await write.Completion;
        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> Channel()
    {
        var parsed = System.Threading.Channels.Channel.CreateBounded<int>(new BoundedChannelOptions(ParseCapacity) { SingleReader = true, SingleWriter = true });
        var batches = System.Threading.Channels.Channel.CreateBounded<int[]>(new BoundedChannelOptions(WriteCapacity) { SingleReader = true, SingleWriter = true });
        var batcher = Task.Run(async () =>
        {
            var batch = new int[BatchSize];
            var count = 0;
            await foreach (var value in parsed.Reader.ReadAllAsync())
            {
                batch[count++] = value;
                if (count == BatchSize)
                {
                    await batches.Writer.WriteAsync(batch);
                    batch = new int[BatchSize];
                    count = 0;
                }
            }

            if (count > 0)
            {
                await batches.Writer.WriteAsync(batch.AsSpan(0, count).ToArray());
            }

            batches.Writer.Complete();
        });
        var writer = Task.Run(async () =>
        {
            await foreach (var batch in batches.Reader.ReadAllAsync())
            {
                Write(batch);
            }
        });
        foreach (var line in _lines)
        {
            var value = Parse(line);
            if (!parsed.Writer.TryWrite(value))
            {
                await parsed.Writer.WriteAsync(value);
            }
        }

        parsed.Writer.Complete();
        await Task.WhenAll(batcher, writer);
        return _sum;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> ParallelExecPipeline()
    {
        var result = await Exec.Pipeline<string>()
            .Select(Parse, stage => stage.WithQueue(ParseCapacity))
            .Batch(BatchSize, Timeout.InfiniteTimeSpan, stage => stage.WithQueue(BatchCapacity))
            .ForEach(Write, stage => stage.WithQueue(WriteCapacity))
            .RunAsync(_lines);
        return result.Stages[^1].Left;
    }

    private static int Parse(string line) => int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);

    private void Write(IReadOnlyList<int> batch)
    {
        long sum = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            sum += batch[i];
        }

        _sum += sum;
    }
}
