using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>
/// Appends without the lock (BatchProcessor.Appends.cs): posts and uncancellable submissions take slots of an armed open
/// batch with one atomic increment, while everything else settles the batch under the lock. These tests race the
/// appends against sealing by size, the timer, flushes, snapshots, cancellations and Complete, and check every item id.
/// </summary>
public class BatchProcessorAppendTests
{
    private const int Producers = 4;

    [Fact]
    public async Task ConcurrentAppendsAreHandledExactlyOnceWhileFlushesTimersAndSnapshotsSettleTheBatch()
    {
        const int ItemsPerProducer = 20_000;
        var handled = new ConcurrentDictionary<int, int>();
        var processor = new BatchProcessor<int, int>(
            Counting(handled, resultFactor: 2),
            new BatchProcessorOptions<int>
            {
                // Odd, so that sealing by size, by time and by flush all land in the middle of runs of appends.
                MaxBatchSize = 7,
                QueueCapacity = 100_000,
                MaxDelay = TimeSpan.FromMilliseconds(1),
                MaxDegreeOfParallelism = 2,
            });

        var posted = new ConcurrentBag<int>();
        var cancelled = new ConcurrentBag<int>();
        var succeeded = new ConcurrentBag<int>();
        using var stop = new CancellationTokenSource();
        var disturber = Task.Run(async () =>
        {
            long lastSubmitted = 0;
            while (!stop.IsCancellationRequested)
            {
                await processor.FlushAsync();
                var submitted = processor.GetStatistics().Ledger.Submitted;
                Assert.True(submitted >= lastSubmitted, $"Submitted went back from {lastSubmitted} to {submitted}.");
                lastSubmitted = submitted;
                await Task.Yield();
            }
        });

        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            var awaited = new List<(int Id, ValueTask<int> Task, CancellationTokenSource? Source)>();
            for (var i = 0; i < ItemsPerProducer; i++)
            {
                var id = (p * 1_000_000) + i;
                switch (i % 4)
                {
                    case 0:
                    case 1:
                        Assert.Equal(PostResult.Accepted, processor.TryPost(id));
                        posted.Add(id);
                        break;
                    case 2:
                        awaited.Add((id, processor.SubmitAsync(id), null));
                        break;
                    default:
                        // A cancellable submission takes the lock, settling the armed batch between appends.
                        var source = new CancellationTokenSource();
                        awaited.Add((id, processor.SubmitAsync(id, source.Token), source));
                        if (i % 8 == 3)
                        {
                            await source.CancelAsync();
                        }

                        break;
                }

                if (awaited.Count == 256)
                {
                    await DrainAsync(awaited, succeeded, cancelled);
                }
            }

            await DrainAsync(awaited, succeeded, cancelled);
        })).ToArray();

        await Task.WhenAll(producers).WithTimeout(TimeSpan.FromSeconds(120));
        await stop.CancelAsync();
        await disturber.WithTimeout();
        await processor.DisposeAsync().AsTask().WithTimeout();

        var expectedHandled = posted.Concat(succeeded).Order().ToArray();
        Assert.Equal(expectedHandled, handled.Keys.Order().ToArray());
        Assert.All(handled, pair => Assert.Equal(1, pair.Value));
        Assert.All(cancelled, id => Assert.False(handled.ContainsKey(id), $"cancelled item {id} was handled"));
        Assert.Equal(Producers * ItemsPerProducer, posted.Count + succeeded.Count + cancelled.Count);

        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal(Producers * ItemsPerProducer, ledger.Submitted);
        Assert.Equal(expectedHandled.Length, ledger.Succeeded);
        Assert.Equal(cancelled.Count, ledger.Cancelled);
        Assert.Equal(0, ledger.Queued + ledger.InFlight + ledger.Dropped + ledger.Failed);
    }

    [Fact]
    public async Task CompleteDuringConcurrentAppendsKeepsEveryAcceptedItemAndNoRefusedOne()
    {
        var handled = new ConcurrentDictionary<int, int>();
        var processor = new BatchProcessor<int, int>(
            Counting(handled, resultFactor: 1),
            new BatchProcessorOptions<int> { MaxBatchSize = 64, QueueCapacity = 100_000 });

        var accepted = new ConcurrentBag<int>();
        var refused = new ConcurrentBag<int>();
        using var started = new CountdownEvent(Producers);
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            started.Signal();
            for (var i = 0; ; i++)
            {
                var id = (p * 10_000_000) + i;
                try
                {
                    // A full queue (the producers outrun the handler) takes nothing: the same id is offered again.
                    PostResult result;
                    while ((result = processor.TryPost(id)) == PostResult.QueueFull)
                    {
                        Thread.Yield();
                    }

                    Assert.Equal(PostResult.Accepted, result);
                    accepted.Add(id);
                }
                catch (InvalidOperationException)
                {
                    refused.Add(id);
                    return;
                }
            }
        })).ToArray();

        started.Wait(TestTimeout.Unexpected);
        await TestTimeout.WaitUntilAsync(() => accepted.Count >= 20_000);
        processor.Complete();
        await Task.WhenAll(producers).WithTimeout();
        await processor.Completion.WithTimeout();

        Assert.Equal(Producers, refused.Count);
        Assert.Equal(accepted.Order().ToArray(), handled.Keys.Order().ToArray());
        Assert.All(handled, pair => Assert.Equal(1, pair.Value));
        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal(accepted.Count, ledger.Submitted);
        Assert.Equal(accepted.Count, ledger.Succeeded);
    }

    [Fact]
    public async Task ConcurrentAppendsNeverTakeMoreThanTheQueueCapacity()
    {
        // The first batch of 5 runs and blocks; the queue then holds 20 more, and Reject refuses the rest: exactly 25 are
        // accepted however the producers interleave, which holds only if a batch is armed just for the room it has.
        using var release = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                running.Set();
                release.Wait(TestTimeout.Unexpected);
                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int>
            {
                MaxBatchSize = 5,
                QueueCapacity = 20,
                FullMode = QueueFullMode.Reject,
                MaxDegreeOfParallelism = 1,
            });

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(PostResult.Accepted, processor.TryPost(i));
        }

        Assert.True(running.Wait(TestTimeout.Unexpected));
        var results = new ConcurrentBag<PostResult>();
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                results.Add(processor.TryPost(1_000 + (p * 100) + i));
            }
        })).ToArray();
        await Task.WhenAll(producers).WithTimeout();

        Assert.Equal(20, results.Count(r => r == PostResult.Accepted));
        Assert.Equal(380, results.Count(r => r == PostResult.Rejected));
        release.Set();
        await processor.DisposeAsync().AsTask().WithTimeout();
        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal(25, ledger.Succeeded);
        Assert.Equal(380, ledger.Rejected);
    }

    [Fact]
    public async Task AppendedItemsAreCountedAtOnceAndFlushedByTheTimerTheFirstAppendArmed()
    {
        var time = new FakeTimeProvider();
        var batches = new ConcurrentQueue<int[]>();
        var processor = new BatchProcessor<int, int>(
            (items, _) =>
            {
                batches.Enqueue(items.ToArray());
                return new ValueTask<IReadOnlyList<int>>(items.ToArray());
            },
            new BatchProcessorOptions<int> { MaxBatchSize = 10, MaxDelay = TimeSpan.FromMilliseconds(10), TimeProvider = time });

        Assert.Equal(PostResult.Accepted, processor.TryPost(1));
        var awaited = processor.SubmitAsync(2);
        Assert.Equal(PostResult.Accepted, processor.TryPost(3));

        var before = processor.GetStatistics().Ledger;
        Assert.Equal(3, before.Submitted);
        Assert.Equal(3, before.Queued);

        // The snapshot settled the batch and re-armed it: later appends still join it and still flush with it.
        Assert.Equal(PostResult.Accepted, processor.TryPost(4));
        time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.Empty(batches);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(2, await awaited.WithTimeout());
        Assert.Equal([1, 2, 3, 4], Assert.Single(batches));
        Assert.Equal(1, processor.GetStatistics().FlushedByTime);
        await processor.DisposeAsync().AsTask().WithTimeout();
    }

    [Fact]
    public async Task AClockThatThrowsOnTheFirstAppendStillLeavesItsSlotPublished()
    {
        // The first append of a batch stamps its age after taking its slot; if the clock throws there, the slot must
        // still be published, or the next holder of the lock would wait for it forever.
        var clock = new FaultyClock { FailTimestampsFrom = 1 };
        var handled = new ConcurrentQueue<int>();
        var processor = new BatchProcessor<int, int>(
            Recording(handled),
            new BatchProcessorOptions<int> { MaxBatchSize = 10, MaxDelay = Timeout.InfiniteTimeSpan, TimeProvider = clock });

        Assert.Throws<ClockFault>(() => processor.TryPost(1));
        clock.FailTimestampsFrom = 0;

        var ledger = await Task.Run(() => processor.GetStatistics().Ledger).WithTimeout();
        Assert.Equal(1, ledger.Submitted);
        Assert.Equal(PostResult.Accepted, processor.TryPost(2));
        await processor.FlushAsync().AsTask().WithTimeout();
        Assert.Equal([1, 2], handled.ToArray());
        await processor.DisposeAsync().AsTask().WithTimeout();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AThrowingSubmittedListenerReachesTheSubmitterButTheBatchStillRuns(bool coalesce)
    {
        // Without coalescing the items are appended without the lock; with it they take the lock (Enqueue, Apply). Either
        // way the listener's exception is the submitter's, and the batch the second item fills is sealed and handled.
        var name = $"throwing-submitted-{coalesce}";
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "parallelexec.batch.items.submitted")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Value is string value && value == name)
                {
                    throw new InvalidDataException("listener");
                }
            }
        });
        listener.Start();

        var handled = new ConcurrentQueue<int>();
        var processor = new BatchProcessor<int, int>(
            Recording(handled),
            new BatchProcessorOptions<int> { Name = name, MaxBatchSize = 2, MaxDelay = Timeout.InfiniteTimeSpan, Coalesce = coalesce });

        Assert.Throws<InvalidDataException>(() => processor.TryPost(1));
        Assert.Throws<InvalidDataException>(() => processor.TryPost(2));
        await TestTimeout.WaitUntilAsync(() => handled.Count == 2);
        Assert.Equal([1, 2], handled.Order().ToArray());
        listener.Dispose();
        await processor.DisposeAsync().AsTask().WithTimeout();
    }

    /// <summary>A handler that records the items it receives, in order, and returns each item as its result.</summary>
    private static Func<IReadOnlyList<int>, CancellationToken, ValueTask<IReadOnlyList<int>>> Recording(ConcurrentQueue<int> handled) =>
        (items, _) =>
        {
            foreach (var item in items)
            {
                handled.Enqueue(item);
            }

            return new ValueTask<IReadOnlyList<int>>(items.ToArray());
        };

    /// <summary>A handler that counts how often it receives each item id and returns <c>id * resultFactor</c>.</summary>
    private static Func<IReadOnlyList<int>, CancellationToken, ValueTask<IReadOnlyList<int>>> Counting(ConcurrentDictionary<int, int> handled, int resultFactor) =>
        (items, _) =>
        {
            foreach (var id in items)
            {
                handled.AddOrUpdate(id, 1, (_, n) => n + 1);
            }

            return new ValueTask<IReadOnlyList<int>>(items.Select(i => i * resultFactor).ToArray());
        };

    private static async Task DrainAsync(
        List<(int Id, ValueTask<int> Task, CancellationTokenSource? Source)> awaited,
        ConcurrentBag<int> succeeded,
        ConcurrentBag<int> cancelled)
    {
        // One await per submission, in order: each ValueTask is backed by a pooled source and may be awaited only once.
        foreach (var (id, task, source) in awaited)
        {
            try
            {
                Assert.Equal(id * 2, await task);
                succeeded.Add(id);
            }
            catch (OperationCanceledException)
            {
                Assert.NotNull(source);
                cancelled.Add(id);
            }
            finally
            {
                source?.Dispose();
            }
        }

        awaited.Clear();
    }
}
