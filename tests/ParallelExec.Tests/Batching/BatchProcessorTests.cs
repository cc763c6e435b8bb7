using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

public class BatchProcessorTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(10);

    /// <summary>A handler that records every batch it sees and answers item * 10.</summary>
    private sealed class RecordingHandler
    {
        public ConcurrentQueue<int[]> Batches { get; } = new();

        public ValueTask<IReadOnlyList<int>> HandleAsync(IReadOnlyList<int> items, CancellationToken cancellationToken)
        {
            var copy = items.ToArray();
            Batches.Enqueue(copy);
            return new ValueTask<IReadOnlyList<int>>(copy.Select(i => i * 10).ToArray());
        }
    }

    private static BatchProcessorOptions<int> Options(FakeTimeProvider time, int maxBatchSize = 100) => new()
    {
        MaxBatchSize = maxBatchSize,
        MaxDelay = Delay,
        TimeProvider = time,
    };

    [Fact]
    public async Task TimeTriggerFiresExactlyAtMaxDelayAfterTheOldestItem()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler();
        await using var processor = new BatchProcessor<int, int>(handler.HandleAsync, Options(time));

        var first = processor.SubmitAsync(1);
        time.Advance(TimeSpan.FromMilliseconds(4));
        var second = processor.SubmitAsync(2);
        time.Advance(Delay - TimeSpan.FromMilliseconds(4) - TimeSpan.FromTicks(1));
        Assert.Equal(0, processor.GetStatistics().FlushedByTime);

        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(1, processor.GetStatistics().FlushedByTime);
        Assert.Equal(10, await first.WithTimeout());
        Assert.Equal(20, await second.WithTimeout());
        Assert.Equal(new[] { 1, 2 }, Assert.Single(handler.Batches));

        // The next batch's clock starts at its own oldest item, not at the previous batch.
        time.Advance(TimeSpan.FromMilliseconds(3));
        var third = processor.SubmitAsync(3);
        time.Advance(Delay - TimeSpan.FromTicks(1));
        Assert.Equal(1, processor.GetStatistics().FlushedByTime);
        time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(2, processor.GetStatistics().FlushedByTime);
        Assert.Equal(30, await third.WithTimeout());
    }

    [Fact]
    public async Task SizeTriggerFlushesAFullBatchWithoutWaitingForTheDelay()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler();
        await using var processor = new BatchProcessor<int, int>(handler.HandleAsync, Options(time, maxBatchSize: 5));

        var tasks = Enumerable.Range(0, 12).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        await Task.WhenAll(tasks.Take(10)).WithTimeout();

        var stats = processor.GetStatistics();
        Assert.Equal(2, stats.FlushedBySize);
        Assert.Equal(0, stats.FlushedByTime);
        Assert.Equal(2, stats.Ledger.Queued);
        Assert.False(tasks[10].IsCompleted);
        Assert.Equal(new[] { new[] { 0, 1, 2, 3, 4 }, new[] { 5, 6, 7, 8, 9 } }, handler.Batches.ToArray());

        time.Advance(Delay);
        Assert.Equal(new[] { 0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110 }, await Task.WhenAll(tasks).WithTimeout());
    }

    [Fact]
    public async Task NoBatchIsLargerThanMaxBatchSizeUnderConcurrentProducers()
    {
        var handler = new RecordingHandler();
        var processor = new BatchProcessor<int, int>(handler.HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = 7,
            MaxDelay = TimeSpan.FromMilliseconds(1),
            MaxDegreeOfParallelism = 3,
        });

        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            var submitted = new List<(int Item, Task<int> Result)>();
            for (var i = 0; i < 500; i++)
            {
                var item = (p * 1000) + i;
                submitted.Add((item, processor.SubmitAsync(item).AsTask()));
                if (i % 50 == 0)
                {
                    await Task.Yield();
                }
            }

            foreach (var (item, result) in submitted)
            {
                Assert.Equal(item * 10, await result);
            }
        }));
        await Task.WhenAll(producers).WithTimeout();
        await processor.DisposeAsync();

        Assert.All(handler.Batches, b => Assert.InRange(b.Length, 1, 7));
        Assert.Equal(2000, handler.Batches.Sum(b => b.Length));
        Assert.Contains(handler.Batches, b => b.Length == 7);
    }

    [Fact]
    public async Task DisposeFlushesTheFinalPartialBatchAndLosesNothing()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler();
        var processor = new BatchProcessor<int, int>(handler.HandleAsync, Options(time, maxBatchSize: 10));
        var tasks = Enumerable.Range(0, 13).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();

        await processor.DisposeAsync().AsTask().WithTimeout();

        Assert.Equal(Enumerable.Range(0, 13).Select(i => i * 10), await Task.WhenAll(tasks).WithTimeout());
        Assert.Equal(new[] { 10, 3 }, handler.Batches.Select(b => b.Length));
        var stats = processor.GetStatistics();
        Assert.Equal(1, stats.FlushedOnDispose);
        Assert.Equal(13, stats.Ledger.Succeeded);
        await processor.DisposeAsync(); // idempotent
        Assert.Throws<ObjectDisposedException>(() => processor.SubmitAsync(1));
        Assert.Throws<ObjectDisposedException>(() => processor.TryPost(1));
    }

    [Fact]
    public async Task CoalescingGivesEqualItemsOneSlotAndEveryCallerTheResult()
    {
        var time = new FakeTimeProvider();
        var handler = new RecordingHandler();
        var options = Options(time);
        options.Coalesce = true;
        await using var processor = new BatchProcessor<int, int>(handler.HandleAsync, options);

        var tasks = new[] { 1, 2, 1, 3, 2, 1 }.Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        time.Advance(Delay);

        Assert.Equal(new[] { 10, 20, 10, 30, 20, 10 }, await Task.WhenAll(tasks).WithTimeout());
        Assert.Equal(new[] { 1, 2, 3 }, Assert.Single(handler.Batches));
        var stats = processor.GetStatistics();
        Assert.Equal(6, stats.Ledger.Submitted);
        Assert.Equal(3, stats.Coalesced);
        Assert.Equal(6, stats.Ledger.Succeeded);
    }

    [Fact]
    public async Task BisectionIsolatesTheOnePoisonItemAmongAThousand()
    {
        const int Poison = 617;
        var calls = 0;
        var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                Interlocked.Increment(ref calls);
                if (items.Contains(Poison))
                {
                    throw new InvalidDataException("poison");
                }

                return new ValueTask<IReadOnlyList<int>>(items.Select(i => i + 1).ToArray());
            },
            new BatchProcessorOptions<int> { MaxBatchSize = 1000, QueueCapacity = 1000, MaxDelay = Timeout.InfiniteTimeSpan, FailureMode = BatchFailureMode.Bisect });

        var tasks = Enumerable.Range(0, 1000).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        await Task.WhenAny(Task.WhenAll(tasks)).WithTimeout();

        for (var i = 0; i < tasks.Length; i++)
        {
            if (i == Poison)
            {
                Assert.Equal("poison", (await Assert.ThrowsAsync<InvalidDataException>(() => tasks[i])).Message);
            }
            else
            {
                Assert.Equal(i + 1, await tasks[i]);
            }
        }

        // One call for the whole batch, then two per level of a binary search down to the single item.
        Assert.InRange(calls, 2, 1 + (2 * 10));
        var stats = processor.GetStatistics();
        Assert.Equal(999, stats.Ledger.Succeeded);
        Assert.Equal(1, stats.Ledger.Failed);
        await processor.DisposeAsync();
    }

    [Fact]
    public async Task FailAllGivesEveryItemTheHandlersException()
    {
        var time = new FakeTimeProvider();
        await using var processor = new BatchProcessor<int, int>(
            (_, _) => throw new InvalidDataException("bulk failed"),
            Options(time, maxBatchSize: 3));

        var tasks = Enumerable.Range(0, 3).Select(i => processor.SubmitAsync(i).AsTask()).ToArray();
        foreach (var task in tasks)
        {
            await Assert.ThrowsAsync<InvalidDataException>(() => task.WithTimeout());
        }

        Assert.Equal(3, processor.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public void BadOptionsGiveOneArgumentExceptionListingEveryValue()
    {
        var options = new BatchProcessorOptions<int>
        {
            MaxBatchSize = 0,
            MaxDelay = TimeSpan.Zero,
            MaxDegreeOfParallelism = -1,
            QueueCapacity = -5,
            FullMode = (QueueFullMode)9,
            MinBatchSize = 0,
            TimeProvider = null!,
        };

        var error = Assert.Throws<ArgumentException>(() => new BatchProcessor<int, int>((i, _) => new ValueTask<IReadOnlyList<int>>(i), options));

        Assert.Equal(
            "Invalid BatchProcessorOptions: TimeProvider = null: must not be null; "
            + "MaxBatchSize = 0: must be greater than zero; "
            + "MaxDelay = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan; "
            + "MaxDegreeOfParallelism = -1: must be greater than zero; "
            + "QueueCapacity = -5: must be at least MaxBatchSize (0); "
            + "FullMode = 9: must be a defined QueueFullMode value; "
            + "MinBatchSize = 0: must be between 1 and MaxBatchSize (0). (Parameter 'TimeProvider')",
            error.Message);
        Assert.Equal("TimeProvider", error.ParamName);
    }
}
