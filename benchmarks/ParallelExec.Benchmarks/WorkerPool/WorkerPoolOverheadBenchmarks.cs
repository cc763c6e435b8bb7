using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Workers;

namespace ParallelExec.Benchmarks.WorkerPool;

/// <summary>
/// Per-item overhead: 100,000 trivial items through 2 workers over a queue of capacity 1024. Every way builds its
/// machinery inside the measured call (pool, channel, block), as a user would for one batch of work.
/// </summary>
[MemoryDiagnoser]
public class WorkerPoolOverheadBenchmarks
{
    private const int Items = 100_000;
    private const int Workers = 2;
    private const int Capacity = 1024;

    // Sixteen callers awaiting one item at a time: enough to keep two workers busy without a task per item.
    private const int AwaitingCallers = 16;

    private static int s_sink;

    private static readonly Func<CancellationToken, ValueTask> s_work = static _ =>
    {
        Interlocked.Increment(ref s_sink);
        return ValueTask.CompletedTask;
    };

    private static readonly Func<CancellationToken, ValueTask<int>> s_workWithResult = static _ =>
        ValueTask.FromResult(Interlocked.Increment(ref s_sink));

    private static void Work(int item) => Interlocked.Increment(ref s_sink);

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task Sequential()
    {
        for (var i = 0; i < Items; i++)
        {
            await s_work(CancellationToken.None);
        }
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task Channel()
    {
        var channel = System.Threading.Channels.Channel.CreateBounded<int>(new BoundedChannelOptions(Capacity)
        {
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        var consumers = new Task[Workers];
        for (var c = 0; c < Workers; c++)
        {
            consumers[c] = Task.Run(async () =>
            {
                var reader = channel.Reader;
                while (await reader.WaitToReadAsync())
                {
                    while (reader.TryRead(out var item))
                    {
                        Work(item);
                    }
                }
            });
        }

        for (var i = 0; i < Items; i++)
        {
            await channel.Writer.WriteAsync(i);
        }

        channel.Writer.Complete();
        await Task.WhenAll(consumers);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ActionBlock()
    {
        var block = new ActionBlock<int>(Work, new ExecutionDataflowBlockOptions
        {
            MaxDegreeOfParallelism = Workers,
            BoundedCapacity = Capacity,
        });
        for (var i = 0; i < Items; i++)
        {
            await block.SendAsync(i);
        }

        block.Complete();
        await block.Completion;
    }

    /// <summary>
    /// The peer for awaited results: an <see cref="ActionBlock{TInput}"/> completing a
    /// <see cref="TaskCompletionSource{TResult}"/> per item, awaited in the same pattern as
    /// <see cref="ParallelExec_RunAsync"/> (what a user would build to get each item's result from a block).
    /// </summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ActionBlockWithResults()
    {
        var block = new ActionBlock<TaskCompletionSource<int>>(
            static result => result.SetResult(Interlocked.Increment(ref s_sink)),
            new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Workers, BoundedCapacity = Capacity });
        var pending = new Task<int>[Capacity];
        for (var i = 0; i < Items; i++)
        {
            var slot = i % Capacity;
            if (i >= Capacity)
            {
                await pending[slot];
            }

            // Continuations asynchronous, as the pool's: a result never runs the caller on the block's thread.
            var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            await block.SendAsync(result);
            pending[slot] = result.Task;
        }

        for (var i = Math.Max(0, Items - Capacity); i < Items; i++)
        {
            await pending[i % Capacity];
        }

        block.Complete();
        await block.Completion;
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public Task ParallelForEachAsync() =>
        Parallel.ForEachAsync(Enumerable.Range(0, Items), new ParallelOptions { MaxDegreeOfParallelism = Workers }, (item, _) =>
        {
            Work(item);
            return ValueTask.CompletedTask;
        });

    [Benchmark(OperationsPerInvoke = Items)]
    public Task WhenAll()
    {
        var tasks = new Task[Items];
        for (var i = 0; i < Items; i++)
        {
            var item = i;
            tasks[i] = Task.Run(() => Work(item));
        }

        return Task.WhenAll(tasks);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec_Post()
    {
        var pool = new ParallelExec.Workers.WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = Workers, QueueCapacity = Capacity });
        for (var i = 0; i < Items; i++)
        {
            await pool.PostAsync(s_work);
        }

        await pool.DisposeAsync();
    }

    /// <summary>
    /// One caller submits every item and awaits the results in order, keeping up to <see cref="Capacity"/> results
    /// pending (the pattern of collecting results from a pool): the caller rarely waits, so it costs no thread hop.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec_RunAsync()
    {
        var pool = new ParallelExec.Workers.WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = Workers, QueueCapacity = Capacity });
        var pending = new ValueTask<int>[Capacity];
        for (var i = 0; i < Items; i++)
        {
            var slot = i % Capacity;
            if (i >= Capacity)
            {
                await pending[slot];
            }

            pending[slot] = pool.RunAsync(s_workWithResult);
        }

        for (var i = Math.Max(0, Items - Capacity); i < Items; i++)
        {
            await pending[i % Capacity];
        }

        await pool.DisposeAsync();
    }

    /// <summary>Sixteen callers, each awaiting one item at a time: every result resumes its caller on the thread pool.</summary>
    [Benchmark(OperationsPerInvoke = Items)]
    public async Task ParallelExec_RunAsync16Callers()
    {
        var pool = new ParallelExec.Workers.WorkerPool(new WorkerPoolOptions { MaxDegreeOfParallelism = Workers, QueueCapacity = Capacity });
        var callers = new Task[AwaitingCallers];
        for (var c = 0; c < AwaitingCallers; c++)
        {
            callers[c] = CallerAsync(pool);
        }

        await Task.WhenAll(callers);
        await pool.DisposeAsync();

        static async Task CallerAsync(ParallelExec.Workers.WorkerPool pool)
        {
            for (var i = 0; i < Items / AwaitingCallers; i++)
            {
                await pool.RunAsync(s_workWithResult);
            }
        }
    }
}
