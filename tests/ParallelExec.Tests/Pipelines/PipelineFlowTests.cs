using System.Threading.Channels;
using ParallelExec.Pipelines;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Pipelines;

/// <summary>Backpressure, order, sources and sinks, completion, and resizing while running.</summary>
public class PipelineFlowTests
{
    [Fact]
    public async Task ASlowSinkHoldsTheSourceBackWithinTheSumOfTheCapacities()
    {
        const int Count = 400;
        long produced = 0;
        long consumed = 0;
        long peak = 0;

        IEnumerable<int> Source()
        {
            for (var i = 0; i < Count; i++)
            {
                var inside = Interlocked.Increment(ref produced) - Interlocked.Read(ref consumed);
                if (inside > peak)
                {
                    peak = inside;
                }

                yield return i;
            }
        }

        var pipeline = Exec.Pipeline<int>()
            .Select(i => i * 2, stage => stage.WithQueue(8).WithMaxDegreeOfParallelism(2).WithResultOrder(ResultOrder.Completion))
            .Select(async (i, ct) => { await Task.Yield(); return i + 1; }, stage => stage.WithQueue(4).WithMaxDegreeOfParallelism(3))
            .Batch(5, Timeout.InfiniteTimeSpan, stage => stage.WithQueue(5))
            .Unbatch(stage => stage.WithQueue(6))
            .ForEach(async (i, ct) =>
            {
                await Task.Delay(1, ct);
                Interlocked.Increment(ref consumed);
            }, stage => stage.WithQueue(2));

        var result = await pipeline.RunAsync(Source()).WithTimeout();

        // Per stage, its queue plus what its workers hold: unordered, one item per worker; ordered, up to the reorder
        // window (the queue capacity). The batch stage: its queue plus the batch being passed on. Unbatch counts
        // batches: 6 queued and 1 being expanded, of 5 items each. The pump holds one more item.
        const long Bound = (8 + 2) + (4 + 4) + (5 + 5) + ((6 + 1) * 5) + (2 + 2) + 1;
        Assert.Equal(Count, Interlocked.Read(ref consumed));
        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        Assert.True(peak <= Bound, $"Peak inside {peak} exceeds the bound {Bound}.");
        Assert.True(peak >= 10, $"Peak {peak}: the sink never held the source back.");
    }

    [Fact]
    public async Task AnOrderedStageKeepsInputOrderWhateverTheCompletionOrder()
    {
        var seen = new List<int>();
        var pipeline = Exec.Pipeline<int>()
            .Select(async (i, ct) =>
            {
                // Later items often finish first.
                for (var spin = 0; spin < (i * 7919) % 5; spin++)
                {
                    await Task.Yield();
                }

                return i;
            }, stage => stage.WithMaxDegreeOfParallelism(4).WithQueue(16).WithResultOrder(ResultOrder.Input))
            .ForEach(seen.Add);

        var result = await pipeline.RunAsync(Enumerable.Range(0, 5000)).WithTimeout();

        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        Assert.Equal(Enumerable.Range(0, 5000), seen);
    }

    [Fact]
    public async Task AWriterSourceCompletesTheStagesInTurn()
    {
        var sink = Channel.CreateUnbounded<string>();
        var pipeline = Exec.Pipeline<int>()
            .Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Where(s => s.Length < 3)
            .ToChannel(sink.Writer);

        var run = pipeline.Start(out var input);
        for (var i = 0; i < 200; i++)
        {
            await input.WriteAsync(i);
        }

        input.Complete();
        await run.Completion.WithTimeout();
        var result = await run.Result;

        // Reading ends only because the run completed the sink's writer.
        var items = await ReadAllAsync(sink.Reader).WithTimeout();

        Assert.Equal(100, items.Count);
        Assert.Equal(200, result["select"].Entered);
        Assert.Equal(100, result["where"].Filtered);
        Assert.Equal(100, result["where"].Left);
        Assert.Throws<ChannelClosedException>(() => input.WriteAsync(1).AsTask().GetAwaiter().GetResult());
        await run.DisposeAsync();
    }

    [Fact]
    public async Task ChannelAndAsyncSourcesFlowIntoAnAsyncEnumerableOutput()
    {
        var source = Channel.CreateBounded<int>(4);
        var pipeline = Exec.Pipeline<int>().Select(i => i * 10).ToAsyncEnumerable(capacity: 2);
        var run = pipeline.Start(source.Reader);
        var writing = Task.Run(async () =>
        {
            for (var i = 1; i <= 50; i++)
            {
                await source.Writer.WriteAsync(i);
            }

            source.Writer.Complete();
        });

        var outputs = new List<int>();
        await foreach (var output in run.ReadAllAsync())
        {
            outputs.Add(output);
        }

        await writing.WithTimeout();
        Assert.Equal(Enumerable.Range(1, 50).Select(i => i * 10), outputs);

        var fromAsync = new List<int>();
        await foreach (var output in pipeline.ReadAllAsync(RangeAsync(5)))
        {
            fromAsync.Add(output);
        }

        Assert.Equal([0, 10, 20, 30, 40], fromAsync);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SelectManyPassesOnEveryElementAndFailsTheItemWhoseSequenceThrows(bool asynchronous)
    {
        // Item i expands into i % 4 elements (i * 10 + k); item 14's sequence throws after its first element.
        static IEnumerable<int> Expand(int i)
        {
            for (var k = 0; k < i % 4; k++)
            {
                if (i == 14 && k == 1)
                {
                    throw new InvalidOperationException("sequence of 14");
                }

                yield return (i * 10) + k;
            }
        }

        static async IAsyncEnumerable<int> ExpandAsync(int i, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
        {
            foreach (var element in Expand(i))
            {
                await Task.Yield();
                ct.ThrowIfCancellationRequested();
                yield return element;
            }
        }

        var failed = new System.Collections.Concurrent.ConcurrentQueue<object?>();
        var start = Exec.Pipeline<int>().WithFailurePolicy(PipelineFailurePolicy.SkipAndReport).OnError(f => failed.Enqueue(f.Item));
        var expanded = asynchronous
            ? start.SelectMany<int>(ExpandAsync, stage => stage.WithQueue(2))
            : start.SelectMany<int>(Expand, stage => stage.WithQueue(2));
        var outputs = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var result = await expanded.ForEach(outputs.Enqueue).RunAsync(Enumerable.Range(0, 100)).WithTimeout();

        var expected = Enumerable.Range(0, 100).Where(i => i != 14).SelectMany(Expand).Append(140).Order().ToList();
        Assert.Equal(expected, outputs.Order());
        Assert.Equal(14, Assert.Single(failed));
        var stage = result["selectmany"];
        Assert.Equal((100L, 99L, 1L, (long)expected.Count), (stage.Entered, stage.Left, stage.Failed, stage.Emitted));
        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
    }

    [Fact]
    public async Task BatchesFlushBySizeAndByTimeOnThePipelinesClock()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var batches = Channel.CreateUnbounded<IReadOnlyList<int>>();
        var pipeline = Exec.Pipeline<int>()
            .WithTimeProvider(time)
            .Batch(10, TimeSpan.FromSeconds(1))
            .ToChannel(batches.Writer);

        var run = pipeline.Start(out var input);
        for (var i = 0; i < 25; i++)
        {
            await input.WriteAsync(i);
        }

        Assert.Equal(Enumerable.Range(0, 10), await batches.Reader.ReadAsync().AsTask().WithTimeout());
        Assert.Equal(Enumerable.Range(10, 10), await batches.Reader.ReadAsync().AsTask().WithTimeout());

        // The last five wait for the delay, on the fake clock.
        Assert.False(batches.Reader.TryRead(out _));
        await TestTimeout.WaitUntilAsync(() => run.GetStatistics().Stages[0].Entered == 25);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(Enumerable.Range(20, 5), await batches.Reader.ReadAsync().AsTask().WithTimeout());

        input.Complete();
        var result = await run.Result.WithTimeout();
        Assert.Equal(25, result["batch"].Left);
        Assert.Equal(3, result["batch"].Emitted);
        await run.DisposeAsync();
    }

    [Fact]
    public async Task AStageCanGrowWhileItRuns()
    {
        var running = 0;
        var peak = 0;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pipeline = Exec.Pipeline<int>()
            .Select(async (i, ct) =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref peak, now);
                await release.Task.WaitAsync(ct);
                Interlocked.Decrement(ref running);
                return i;
            }, stage => stage.WithName("work").WithQueue(16).WithResultOrder(ResultOrder.Completion))
            .ForEach(_ => { });

        var run = pipeline.Start(Enumerable.Range(0, 16));
        await TestTimeout.WaitUntilAsync(() => Volatile.Read(ref running) == 1);
        run.SetMaxDegreeOfParallelism("work", 4);
        await TestTimeout.WaitUntilAsync(() => Volatile.Read(ref running) == 4);
        Assert.Equal(4, run.GetStatistics().Stages[0].MaxDegreeOfParallelism);
        release.SetResult();
        var result = await run.Result.WithTimeout();
        Assert.Equal(16, result["foreach"].Left);
        Assert.Equal(4, peak);
        Assert.Throws<KeyNotFoundException>(() => run.SetMaxDegreeOfParallelism("nope", 2));

        // The sink keeps input order with its one worker: it has no reorder window to grow into.
        Assert.Throws<InvalidOperationException>(() => run.SetMaxDegreeOfParallelism("foreach", 2));
        await run.DisposeAsync();
    }

    [Fact]
    public void TheBuilderRefusesReuseAndBadSettings()
    {
        var builder = Exec.Pipeline<int>();
        _ = builder.Select(i => i);
        Assert.Throws<InvalidOperationException>(() => builder.Select(i => i));
        Assert.Throws<InvalidOperationException>(() => Exec.Pipeline<int>().Build());
        Assert.Throws<ArgumentOutOfRangeException>(() => Exec.Pipeline<int>().Select(i => i, stage => stage.WithMaxDegreeOfParallelism(0)));
        Assert.Throws<ArgumentException>(() => Exec.Pipeline<int>().Select(i => i, s => s.WithName("a")).Select(i => i, s => s.WithName("a")));
        Assert.Throws<ArgumentOutOfRangeException>(() => Exec.Pipeline<int>().Batch(0, TimeSpan.FromSeconds(1)));
    }

    private static async Task<List<T>> ReadAllAsync<T>(ChannelReader<T> reader)
    {
        var items = new List<T>();
        await foreach (var item in reader.ReadAllAsync())
        {
            items.Add(item);
        }

        return items;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private static async IAsyncEnumerable<int> RangeAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            await Task.Yield();
            yield return i;
        }
    }
}
