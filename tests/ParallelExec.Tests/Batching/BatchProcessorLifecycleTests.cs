using System.Collections.Concurrent;
using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Batching;

/// <summary>The shared lifecycle (Complete, Completion, DisposeAsync with DrainTimeout) and the post results.</summary>
public sealed class BatchProcessorLifecycleTests
{
    /// <summary>A handler that holds every call until released and records the items of each call.</summary>
    private sealed class GatedHandler
    {
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ConcurrentQueue<int[]> Calls { get; } = new();

        public void Release() => _release.TrySetResult();

        public async ValueTask<IReadOnlyList<int>> HandleAsync(IReadOnlyList<int> items, CancellationToken cancellationToken)
        {
            Calls.Enqueue(items.ToArray());
            Entered.TrySetResult();
            await _release.Task.WaitAsync(cancellationToken);
            return items.Select(i => i * 10).ToArray();
        }
    }

    /// <summary>Posts 1 and 2 (their call starts and is held) and 3 and 4 (a flushed batch waits): the intake (capacity 2) is full.</summary>
    private static async Task<BatchProcessor<int, int>> FillAsync(GatedHandler handler, QueueFullMode mode, ConcurrentQueue<DroppedItem>? drops = null)
    {
        var processor = new BatchProcessor<int, int>(handler.HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = 2,
            QueueCapacity = 2,
            FullMode = mode,
            MaxDelay = Timeout.InfiniteTimeSpan,
            OnDropped = drops is null ? null : drops.Enqueue,
        });
        foreach (var id in new[] { 1, 2, 3, 4 })
        {
            Assert.Equal(PostResult.Accepted, processor.TryPost(id));
            if (id == 2)
            {
                await handler.Entered.Task.WithTimeout();
            }
        }

        return processor;
    }

    [Fact]
    public async Task Complete_flushes_the_open_batch_refuses_new_items_and_Completion_waits_for_every_accepted_item()
    {
        var handler = new GatedHandler();
        var processor = new BatchProcessor<int, int>(handler.HandleAsync, new BatchProcessorOptions<int>
        {
            MaxBatchSize = 10,
            MaxDelay = Timeout.InfiniteTimeSpan,
            Name = "completing",
        });
        var awaited = new[] { 1, 2, 3 }.Select(id => processor.SubmitAsync(id).AsTask()).ToArray();
        Assert.Equal(PostResult.Accepted, processor.TryPost(4));
        Assert.Equal(PostResult.Accepted, await processor.PostAsync(5));
        Assert.False(processor.Completion.IsCompleted);

        processor.Complete();
        processor.Complete(); // idempotent

        await handler.Entered.Task.WithTimeout(); // the open batch was flushed without waiting for MaxDelay
        Assert.Equal([1, 2, 3, 4, 5], Assert.Single(handler.Calls));
        var refused = Assert.Throws<InvalidOperationException>(() => processor.SubmitAsync(6));
        Assert.IsNotType<ObjectDisposedException>(refused);
        Assert.Contains("completing", refused.Message, StringComparison.Ordinal);
        Assert.IsNotType<ObjectDisposedException>(Assert.Throws<InvalidOperationException>(() => processor.TryPost(7)));
        Assert.False(processor.Completion.IsCompleted);

        handler.Release();
        await processor.Completion.WithTimeout();
        Assert.Equal(new[] { 10, 20, 30 }, await Task.WhenAll(awaited).WithTimeout());
        var statistics = processor.GetStatistics();
        Assert.Equal((5L, 5L, 0L, 0L), (statistics.Ledger.Submitted, statistics.Ledger.Succeeded, statistics.Ledger.Queued, statistics.Ledger.InFlight));
        Assert.True(statistics.Ledger.IsBalanced);
        Assert.Equal(1, statistics.FlushedOnDispose);

        await processor.DisposeAsync().WithTimeout();
        Assert.Throws<ObjectDisposedException>(() => processor.TryPost(8));
    }

    [Fact]
    public async Task Completion_of_an_idle_processor_ends_at_Complete_and_DisposeAsync_completes_it_too()
    {
        var idle = Exec.Batch<int, int>((items, _) => ValueTask.FromResult<IReadOnlyList<int>>(items)).Build();
        Assert.False(idle.Completion.IsCompleted);
        idle.Complete();
        await idle.Completion.WithTimeout();
        await idle.DisposeAsync().WithTimeout();

        var disposed = Exec.Batch<int, int>((items, _) => ValueTask.FromResult<IReadOnlyList<int>>(items)).Build();
        await disposed.DisposeAsync().WithTimeout();
        Assert.True(disposed.Completion.IsCompletedSuccessfully);
        IExecComponent component = disposed;
        Assert.Equal("BatchProcessor", component.Name);
        Assert.IsType<BatchProcessorStatistics>(component.GetStatistics());
    }

    [Fact]
    public async Task A_zero_drain_timeout_cuts_running_and_queued_posts_and_reports_each_one()
    {
        var handler = new GatedHandler();
        var drops = new ConcurrentQueue<DroppedItem>();
        var errors = new ConcurrentQueue<FailedItem>();
        var processor = Exec.Batch<int, int>(handler.HandleAsync)
            .WithMaxBatchSize(2)
            .WithMaxDelay(Timeout.InfiniteTimeSpan)
            .WithDrainTimeout(TimeSpan.Zero)
            .WithName("cut")
            .OnDropped(drops.Enqueue)
            .OnError(errors.Enqueue)
            .Build();
        foreach (var id in new[] { 1, 2, 3, 4, 5 })
        {
            Assert.Equal(PostResult.Accepted, processor.TryPost(id));
        }

        await handler.Entered.Task.WithTimeout();
        await processor.DisposeAsync().WithTimeout();

        // 1 and 2 were running (the handler's token was cancelled), 3 and 4 waited in a flushed batch, 5 in the open one.
        Assert.Equal([1, 2, 3, 4, 5], drops.Select(d => (int)d.Item!).Order());
        Assert.All(drops, d => Assert.Equal((DropReason.DrainTimeout, "cut", (object?)null), (d.Reason, d.Component, d.Key)));
        Assert.Empty(errors);
        var ledger = processor.GetStatistics().Ledger;
        Assert.Equal((5L, 5L, 0L), (ledger.Submitted, ledger.Dropped, ledger.Failed));
        Assert.True(ledger.IsBalanced);
    }

    [Fact]
    public async Task TryPost_tells_accepted_after_drop_apart_from_queue_full_and_rejected()
    {
        var dropOldest = new GatedHandler();
        var drops = new ConcurrentQueue<DroppedItem>();
        var processor = await FillAsync(dropOldest, QueueFullMode.DropOldest, drops);
        Assert.Equal(PostResult.AcceptedAfterDrop, processor.TryPost(5));
        Assert.Equal((3, DropReason.DroppedOldest), drops.Select(d => ((int)d.Item!, d.Reason)).Single());
        dropOldest.Release();
        await processor.DisposeAsync().WithTimeout();
        Assert.Equal([[1, 2], [4], [5]], dropOldest.Calls); // 5 went into the open batch, flushed by the disposal

        var wait = new GatedHandler();
        processor = await FillAsync(wait, QueueFullMode.Wait);
        Assert.Equal(PostResult.QueueFull, processor.TryPost(5));
        Assert.Equal(4, processor.GetStatistics().Ledger.Submitted); // a QueueFull post was not taken
        var waiting = processor.PostAsync(6).AsTask();
        Assert.False(waiting.IsCompleted);
        wait.Release();
        Assert.Equal(PostResult.Accepted, await waiting.WithTimeout());
        await processor.DisposeAsync().WithTimeout();
        Assert.Equal((5L, 5L), (processor.GetStatistics().Ledger.Submitted, processor.GetStatistics().Ledger.Succeeded));

        var reject = new GatedHandler();
        drops.Clear();
        processor = await FillAsync(reject, QueueFullMode.Reject, drops);
        Assert.Equal(PostResult.Rejected, processor.TryPost(5));
        Assert.Equal(PostResult.Rejected, await processor.PostAsync(6));
        reject.Release();
        await processor.DisposeAsync().WithTimeout();
        Assert.Equal([(5, DropReason.Rejected), (6, DropReason.Rejected)], drops.Select(d => ((int)d.Item!, d.Reason)));
        Assert.Equal((6L, 2L, 4L), (processor.GetStatistics().Ledger.Submitted, processor.GetStatistics().Ledger.Rejected, processor.GetStatistics().Ledger.Succeeded));
    }
}
