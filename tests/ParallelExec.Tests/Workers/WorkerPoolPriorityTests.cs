using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Workers;

/// <summary>Priority lanes: higher lanes first, starvation of lower lanes bounded, full modes and counts per lane.</summary>
public class WorkerPoolPriorityTests
{
    [Fact]
    public async Task HigherLanesDrainFirst()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithQueue(1000).WithPriorityLanes(3, starvationLimit: 10_000).Build();
        var (blocker, release) = await BlockAsync(pool);
        var order = new List<int>();
        var items = new List<Task>();
        for (var i = 0; i < 90; i++)
        {
            var lane = i % 3;
            items.Add(pool.RunAsync(_ =>
            {
                order.Add(lane);
                return ValueTask.CompletedTask;
            }, lane).AsTask());
        }

        release.SetResult();
        await blocker.WithTimeout();
        await Task.WhenAll(items).WithTimeout();

        Assert.Equal(Enumerable.Repeat(2, 30).Concat(Enumerable.Repeat(1, 30)).Concat(Enumerable.Repeat(0, 30)), order);
        var lanes = pool.GetStatistics().Lanes;
        Assert.Equal(3, lanes.Count);
        Assert.Equal((30, 0, 30, 0), (lanes[2].Submitted, lanes[2].Queued, lanes[2].Started, lanes[2].Dropped));
        Assert.Equal((30, 0, 30, 0), (lanes[1].Submitted, lanes[1].Queued, lanes[1].Started, lanes[1].Dropped));
        Assert.Equal(31, lanes[0].Submitted);
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    public async Task LowerLanesAreNotStarvedBeyondTheDocumentedBound(int laneCount, int limit)
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithQueue(10_000).WithPriorityLanes(laneCount, limit).Build();
        var (blocker, release) = await BlockAsync(pool);
        var order = new List<int>();
        var items = new List<Task>();
        var perLane = new[] { 20, 60, 200, 400 };
        for (var lane = 0; lane < laneCount; lane++)
        {
            for (var i = 0; i < perLane[lane]; i++)
            {
                var captured = lane;
                items.Add(pool.RunAsync(_ =>
                {
                    order.Add(captured);
                    return ValueTask.CompletedTask;
                }, captured).AsTask());
            }
        }

        release.SetResult();
        await blocker.WithTimeout();
        await Task.WhenAll(items).WithTimeout();

        // While a lane still has items, count the starts of higher lanes between two of its own starts.
        var bound = limit + laneCount - 2;
        for (var lane = 0; lane < laneCount - 1; lane++)
        {
            var remaining = perLane[lane];
            var passed = 0;
            foreach (var ran in order)
            {
                if (remaining == 0)
                {
                    break;
                }

                if (ran == lane)
                {
                    remaining--;
                    passed = 0;
                }
                else if (ran > lane)
                {
                    passed++;
                    Assert.True(passed <= bound, $"Lane {lane} was passed over {passed} times in a row (bound {bound}).");
                }
            }
        }

        // And the higher lanes still went first most of the time.
        Assert.Equal(laneCount - 1, order[0]);
    }

    [Fact]
    public async Task DropOldestEvictsFromTheLowestLaneAndCountsItThere()
    {
        var dropped = new List<Delegate>();
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithQueue(3, QueueFullMode.DropOldest).WithPriorityLanes(2)
            .OnDropped(item =>
            {
                lock (dropped)
                {
                    dropped.Add((Delegate)item.Item!);
                }
            })
            .Build();
        var (blocker, release) = await BlockAsync(pool);
        Func<CancellationToken, ValueTask> low = _ => ValueTask.CompletedTask;
        Func<CancellationToken, ValueTask> high = _ => ValueTask.CompletedTask;
        Assert.Equal(PostResult.Accepted, pool.TryPost(low, 0));
        Assert.Equal(PostResult.Accepted, pool.TryPost(high, 1));
        Assert.Equal(PostResult.Accepted, pool.TryPost(high, 1));
        Assert.Equal(PostResult.AcceptedAfterDrop, pool.TryPost(high, 1));
        Assert.Equal(PostResult.AcceptedAfterDrop, pool.TryPost(high, 1));

        Assert.Equal(2, dropped.Count);
        Assert.Same(low, dropped[0]);
        Assert.Same(high, dropped[1]);
        var lanes = pool.GetStatistics().Lanes;
        Assert.Equal((4, 3, 0, 1), (lanes[1].Submitted, lanes[1].Queued, lanes[1].Started, lanes[1].Dropped));
        Assert.Equal(1, lanes[0].Dropped);

        release.SetResult();
        await blocker.WithTimeout();
        pool.Complete();
        await pool.Completion.WithTimeout();
        var statistics = pool.GetStatistics();
        Assert.True(statistics.Ledger.IsBalanced);
        Assert.Equal((4, 0, 3, 1), (statistics.Lanes[1].Submitted, statistics.Lanes[1].Queued, statistics.Lanes[1].Started, statistics.Lanes[1].Dropped));
    }

    [Fact]
    public async Task ACancelledQueuedPriorityItemLeavesItsLane()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).WithPriorityLanes(2).Build();
        var (blocker, release) = await BlockAsync(pool);
        using var cts = new CancellationTokenSource();
        var cancelled = pool.RunAsync(_ => new ValueTask<int>(1), 1, cts.Token).AsTask();
        var kept = pool.RunAsync(_ => new ValueTask<int>(2), 1).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WithTimeout());
        release.SetResult();
        Assert.Equal(2, await kept.WithTimeout());
        await blocker.WithTimeout();
        var lane = pool.GetStatistics().Lanes[1];
        Assert.Equal((2, 0, 1, 1), (lane.Submitted, lane.Queued, lane.Started, lane.Dropped));
    }

    [Fact]
    public async Task APriorityOutsideTheLanesIsRefused()
    {
        await using var plain = Exec.WorkerPool().Build();
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => plain.TryPost(_ => ValueTask.CompletedTask, 1));
        Assert.Equal("priority", refused.ParamName);
        Assert.Empty(plain.GetStatistics().Lanes);
        await using var lanes = Exec.WorkerPool().WithPriorityLanes(3).Build();
        Assert.Throws<ArgumentOutOfRangeException>(() => lanes.RunAsync(_ => new ValueTask<int>(0), 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => lanes.RunAsync(_ => new ValueTask<int>(0), -1));
        Assert.Throws<ArgumentException>(() => Exec.WorkerPool().WithPriorityLanes(17).Build());
    }

    /// <summary>Occupies the pool's only worker until the returned source is completed.</summary>
    private static async Task<(Task Blocker, TaskCompletionSource Release)> BlockAsync(WorkerPool pool)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = pool.RunAsync(async _ =>
        {
            started.SetResult();
            await release.Task;
        }).AsTask();
        await started.Task.WithTimeout();
        return (blocker, release);
    }
}
