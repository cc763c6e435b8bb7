using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Batching;

namespace ParallelExec.Benchmarks.Batching;

/// <summary>
/// 100,000 items through a trivial bulk handler, batch size 100: the per-item overhead of each way to batch.
/// The handler sums the items, so the work itself is negligible and only the machinery is measured.
/// </summary>
[MemoryDiagnoser]
public class BatchThroughputBenchmarks
{
    private const int Items = 100_000;
    private const int BatchSize = 100;
    private const int AwaitWindow = 1_000;

    private static readonly int[] FullBatchResults = new int[BatchSize];
    private static readonly int[] SingleResult = new int[1];

    private readonly SingleItemList _single = new();
    private readonly ValueTask<int>[] _window = new ValueTask<int>[AwaitWindow];
    private BatchProcessor<int, int> _fireAndForget = null!;
    private BatchProcessor<int, int> _awaited = null!;
    private long _sum;

    [GlobalSetup]
    public void Setup()
    {
        // Unbounded in effect for this run (like BatchBlock), so the producer never waits for room.
        _fireAndForget = new BatchProcessor<int, int>(HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = BatchSize,
            QueueCapacity = Items,
        });
        _awaited = new BatchProcessor<int, int>(HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = BatchSize,
            QueueCapacity = Items,
        });
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _fireAndForget.DisposeAsync();
        await _awaited.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task Sequential()
    {
        for (var i = 0; i < Items; i++)
        {
            _single.Value = i;
            await HandleAsync(_single, default);
        }
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task BatchBlock()
    {
        var batch = new BatchBlock<int>(BatchSize);
        var action = new ActionBlock<int[]>(items => HandleAsync(items, default).AsTask());
        batch.LinkTo(action, new DataflowLinkOptions { PropagateCompletion = true });
        for (var i = 0; i < Items; i++)
        {
            batch.Post(i);
        }

        batch.Complete();
        await action.Completion;
    }

    /// <summary>
    /// The peer for <see cref="ParallelExec_Awaited"/>: a BatchBlock whose ActionBlock completes a TaskCompletionSource
    /// per item with that item's result, awaited through the same sliding window of 1,000 outstanding items (the
    /// <see cref="BatchBlock"/> row returns no result per item).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task BatchBlockWithResults()
    {
        var batch = new BatchBlock<(int Item, TaskCompletionSource<int> Result)>(BatchSize);
        var action = new ActionBlock<(int Item, TaskCompletionSource<int> Result)[]>(async entries =>
        {
            var items = new int[entries.Length];
            for (var i = 0; i < entries.Length; i++)
            {
                items[i] = entries[i].Item;
            }

            var results = await HandleAsync(items, default);
            for (var i = 0; i < entries.Length; i++)
            {
                entries[i].Result.TrySetResult(results[i]);
            }
        });
        batch.LinkTo(action, new DataflowLinkOptions { PropagateCompletion = true });
        var window = new Task<int>[AwaitWindow];
        for (var i = 0; i < Items; i++)
        {
            var slot = i % AwaitWindow;
            if (i >= AwaitWindow)
            {
                _sum += await window[slot];
            }

            var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            batch.Post((i, result));
            window[slot] = result.Task;
        }

        // The last partial batch flushes when the block completes.
        batch.Complete();
        for (var i = 0; i < AwaitWindow; i++)
        {
            _sum += await window[(Items + i) % AwaitWindow];
        }

        await action.Completion;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task Channel()
    {
        var channel = System.Threading.Channels.Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var consumer = ConsumeAsync(channel.Reader);
        for (var i = 0; i < Items; i++)
        {
            channel.Writer.TryWrite(i);
        }

        channel.Writer.Complete();
        await consumer;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec_FireAndForget()
    {
        for (var i = 0; i < Items; i++)
        {
            _fireAndForget.TryPost(i);
        }

        await _fireAndForget.FlushAsync();
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec_Awaited()
    {
        // Many callers each awaiting their own result: a sliding window of 1,000 outstanding items.
        for (var i = 0; i < Items; i++)
        {
            var slot = i % AwaitWindow;
            if (i >= AwaitWindow)
            {
                _sum += await _window[slot];
            }

            _window[slot] = _awaited.SubmitAsync(i);
        }

        for (var i = 0; i < AwaitWindow; i++)
        {
            _sum += await _window[(Items + i) % AwaitWindow];
        }
    }

    private async Task ConsumeAsync(ChannelReader<int> reader)
    {
        var buffer = new List<int>(BatchSize);
        while (await reader.WaitToReadAsync())
        {
            while (reader.TryRead(out var item))
            {
                buffer.Add(item);
                if (buffer.Count == BatchSize)
                {
                    await HandleAsync(buffer, default);
                    buffer.Clear();
                }
            }
        }

        if (buffer.Count > 0)
        {
            await HandleAsync(buffer, default);
        }
    }

    private ValueTask<IReadOnlyList<int>> HandleAsync(IReadOnlyList<int> items, CancellationToken cancellationToken)
    {
        long sum = 0;
        for (var i = 0; i < items.Count; i++)
        {
            sum += items[i];
        }

        Interlocked.Add(ref _sum, sum);
        return new ValueTask<IReadOnlyList<int>>(items.Count switch
        {
            BatchSize => FullBatchResults,
            1 => SingleResult,
            _ => new int[items.Count],
        });
    }

    /// <summary>A reusable one-item list, so the sequential baseline measures calls, not allocations.</summary>
    private sealed class SingleItemList : IReadOnlyList<int>
    {
        public int Value { get; set; }

        public int Count => 1;

        public int this[int index] => Value;

        public IEnumerator<int> GetEnumerator()
        {
            yield return Value;
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
