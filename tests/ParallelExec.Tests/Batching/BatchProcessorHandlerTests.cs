using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Batching;

/// <summary>Handler shapes, error paths, fire-and-forget, resilience, adaptive sizing and the builder.</summary>
public class BatchProcessorHandlerTests
{
    [Fact]
    public async Task ByKeyHandlerGivesEachItemItsValueAndAMissingKeyAPerItemError()
    {
        var time = new FakeTimeProvider();
        await using var processor = BatchProcessor<string, int>.CreateByKey(
            (keys, _) => new ValueTask<IReadOnlyDictionary<string, int>>(
                keys.Where(k => k != "missing").ToDictionary(k => k, k => k.Length)),
            new BatchProcessorOptions<string> { MaxDelay = TimeSpan.FromSeconds(1), TimeProvider = time });

        var a = processor.SubmitAsync("a").AsTask();
        var missing = processor.SubmitAsync("missing").AsTask();
        var abc = processor.SubmitAsync("abc").AsTask();
        time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(1, await a.WithTimeout());
        Assert.Equal(3, await abc.WithTimeout());
        var error = await Assert.ThrowsAsync<KeyNotFoundException>(() => missing);
        Assert.Contains("'missing'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ByKeyHandlerCanReturnDefaultForAMissingKey()
    {
        await using var processor = Exec.BatchByKey<int, string?>(
                (keys, _) => new ValueTask<IReadOnlyDictionary<int, string?>>(new Dictionary<int, string?> { [1] = "one" }))
            .WithMissingKeyBehavior(MissingKeyBehavior.ReturnDefault)
            .WithMaxBatchSize(2)
            .Build();

        var results = await processor.SubmitManyAsync([1, 2]).AsTask().WithTimeout();

        Assert.Equal(new[] { "one", null }, results);
    }

    [Fact]
    public async Task AHandlerReturningTheWrongNumberOfResultsFailsTheBatchWithAClearError()
    {
        await using var processor = new BatchProcessor<int, int>(
            (_, _) => new ValueTask<IReadOnlyList<int>>([1]),
            new BatchProcessorOptions<int> { MaxBatchSize = 2 });

        var tasks = new[] { processor.SubmitAsync(1).AsTask(), processor.SubmitAsync(2).AsTask() };

        foreach (var task in tasks)
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => task.WithTimeout());
            Assert.StartsWith("The batch handler returned 1 results for 2 items", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task PostedItemsThatFailReachTheErrorHandler()
    {
        var errors = new ConcurrentQueue<(int Item, string Message)>();
        await using var processor = Exec.Batch<int, int>((_, _) => throw new InvalidDataException("down"))
            .WithMaxDelay(TimeSpan.FromSeconds(30))
            .OnError(failed => errors.Enqueue(((int)failed.Item!, failed.Exception.Message)))
            .Build();

        Assert.Equal(PostResult.Accepted, processor.TryPost(1));
        Assert.Equal(PostResult.Accepted, await processor.PostAsync(2));
        await processor.FlushAsync().AsTask().WithTimeout();

        Assert.Equal(new[] { (1, "down"), (2, "down") }, errors.OrderBy(e => e.Item));
        Assert.Equal(2, processor.GetStatistics().Ledger.Failed);
    }

    [Fact]
    public async Task AResiliencePipelineWrapsEveryHandlerCall()
    {
        var calls = 0;
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 2, Delay = TimeSpan.Zero, ShouldHandle = new PredicateBuilder().Handle<TimeoutException>() })
            .Build();
        await using var processor = Exec.Batch<int, int>((items, _) =>
            {
                if (Interlocked.Increment(ref calls) == 1)
                {
                    throw new TimeoutException("transient");
                }

                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            })
            .WithMaxBatchSize(3)
            .WithResilience(pipeline)
            .Build();

        var results = await processor.SubmitManyAsync([1, 2, 3]).AsTask().WithTimeout();

        Assert.Equal(new[] { 1, 2, 3 }, results);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task AdaptiveSizingConvergesOnTheSizeThatMeetsTheTargetLatency()
    {
        // Each call costs 5 ms plus 1 ms per item (in fake time), so a 25 ms target fits exactly 20 items.
        var time = new FakeTimeProvider();
        var sizes = new ConcurrentQueue<int>();
        var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                sizes.Enqueue(items.Count);
                time.Advance(TimeSpan.FromMilliseconds(5 + items.Count));
                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = 100,
                QueueCapacity = 100,
                MaxDelay = Timeout.InfiniteTimeSpan,
                AdaptiveBatchSize = true,
                MinBatchSize = 1,
                TargetLatency = TimeSpan.FromMilliseconds(25),
                TimeProvider = time,
            });

        for (var i = 0; i < 3000; i++)
        {
            Assert.Equal(PostResult.Accepted, await processor.PostAsync(i));
        }

        await processor.FlushAsync().AsTask().WithTimeout();
        Assert.Equal(20, processor.GetStatistics().CurrentBatchSize);
        await processor.DisposeAsync();

        var handled = sizes.ToArray();
        Assert.Equal(3000, handled.Sum());
        Assert.True(handled[0] > 50, "the first batches start at the maximum size");
        Assert.All(handled[^20..^1], size => Assert.InRange(size, 19, 21));
    }

    [Fact]
    public async Task NoUserCodeRunsUnderTheProcessorsLock()
    {
        BatchProcessor<int, int>? processor = null;
        var violations = 0;
        void Check()
        {
            if (processor?.IsLockHeldByCurrentThread == true)
            {
                Interlocked.Increment(ref violations);
            }
        }

        processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                Check();
                if (items.Contains(13))
                {
                    throw new InvalidDataException();
                }

                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = 4,
                QueueCapacity = 4,
                FullMode = QueueFullMode.DropOldest,
                MaxDelay = TimeSpan.FromMilliseconds(1),
                OnDropped = _ => Check(),
                OnError = _ => Check(),
            });

        var tasks = new List<Task>();
        for (var i = 0; i < 200; i++)
        {
            Assert.True(processor.TryPost(i) is PostResult.Accepted or PostResult.AcceptedAfterDrop);
            tasks.Add(processor.SubmitAsync(1000 + i).AsTask().ContinueWith(_ => Check(), TaskScheduler.Default));
        }

        await processor.DisposeAsync();
        await Task.WhenAll(tasks).WithTimeout();
        Assert.Equal(0, violations);
    }

    [Fact]
    public void TheBuilderIsSingleUse()
    {
        var builder = Exec.Batch<int, int>((items, _) => new ValueTask<IReadOnlyList<int>>(items));
        var processor = builder.WithName("orders").Build();

        Assert.Equal("orders", processor.Name);
        var error = Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Equal("This BatchProcessorBuilder has already built its BatchProcessor: a builder is single use. Start a new one from Exec.", error.Message);
        Assert.Throws<InvalidOperationException>(() => builder.WithMaxBatchSize(3));
        Assert.Throws<ArgumentNullException>(() => Exec.Batch<int, int>(null!));
    }

    [Fact]
    public async Task OptionsAreCopiedSoLaterChangesHaveNoEffect()
    {
        var time = new FakeTimeProvider();
        var options = new BatchProcessorOptions<int> { MaxBatchSize = 2, MaxDelay = Timeout.InfiniteTimeSpan, TimeProvider = time };
        await using var processor = new BatchProcessor<int, int>((items, _) => new ValueTask<IReadOnlyList<int>>(items), options);
        options.MaxBatchSize = 1000;

        var results = await processor.SubmitManyAsync([1, 2]).AsTask().WithTimeout();

        Assert.Equal(new[] { 1, 2 }, results);
        Assert.Equal(1, processor.GetStatistics().FlushedBySize);
    }

    [Fact]
    public async Task TheHandlersListIsDetachedOnceItsCallCompletes()
    {
        IReadOnlyList<int>? kept = null;
        await using var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                kept = items;
                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int> { MaxBatchSize = 1 });

        Assert.Equal(5, await processor.SubmitAsync(5).AsTask().WithTimeout());
        await processor.FlushAsync();

        Assert.Throws<InvalidOperationException>(() => kept![0]);
    }
}
