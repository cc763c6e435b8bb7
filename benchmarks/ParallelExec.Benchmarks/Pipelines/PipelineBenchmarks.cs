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
        var batcher = Task.Run(() => BatchAsync(parsed.Reader, batches.Writer));
        var writer = Task.Run(() => WriteAllAsync(batches.Reader));
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

    /// <summary>
    /// The hand-written channels with the parse as a stage of its own, the shape the other two rows have: the source
    /// loop writes lines, one task parses, one batches, one writes (the <see cref="Channel"/> row parses on the source's
    /// thread, one hand-off fewer per item).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> ChannelParseStage()
    {
        var lines = System.Threading.Channels.Channel.CreateBounded<string>(new BoundedChannelOptions(ParseCapacity) { SingleReader = true, SingleWriter = true });
        var parsed = System.Threading.Channels.Channel.CreateBounded<int>(new BoundedChannelOptions(BatchCapacity) { SingleReader = true, SingleWriter = true });
        var batches = System.Threading.Channels.Channel.CreateBounded<int[]>(new BoundedChannelOptions(WriteCapacity) { SingleReader = true, SingleWriter = true });
        var parser = Task.Run(async () =>
        {
            await foreach (var line in lines.Reader.ReadAllAsync())
            {
                var value = Parse(line);
                if (!parsed.Writer.TryWrite(value))
                {
                    await parsed.Writer.WriteAsync(value);
                }
            }

            parsed.Writer.Complete();
        });
        var batcher = Task.Run(() => BatchAsync(parsed.Reader, batches.Writer));
        var writer = Task.Run(() => WriteAllAsync(batches.Reader));
        foreach (var line in _lines)
        {
            if (!lines.Writer.TryWrite(line))
            {
                await lines.Writer.WriteAsync(line);
            }
        }

        lines.Writer.Complete();
        await Task.WhenAll(parser, batcher, writer);
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

    /// <summary>The hand-written batcher of the channel rows: fills arrays of <see cref="BatchSize"/>, the last one shorter.</summary>
    private static async Task BatchAsync(ChannelReader<int> parsed, ChannelWriter<int[]> batches)
    {
        var batch = new int[BatchSize];
        var count = 0;
        await foreach (var value in parsed.ReadAllAsync())
        {
            batch[count++] = value;
            if (count == BatchSize)
            {
                await batches.WriteAsync(batch);
                batch = new int[BatchSize];
                count = 0;
            }
        }

        if (count > 0)
        {
            await batches.WriteAsync(batch.AsSpan(0, count).ToArray());
        }

        batches.Complete();
    }

    private async Task WriteAllAsync(ChannelReader<int[]> batches)
    {
        await foreach (var batch in batches.ReadAllAsync())
        {
            Write(batch);
        }
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
