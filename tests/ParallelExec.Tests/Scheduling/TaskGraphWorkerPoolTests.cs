using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Scheduling;

public class TaskGraphWorkerPoolTests
{
    [Fact]
    public async Task Two_graphs_on_one_pool_share_its_concurrency_budget()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).Build();
        var running = 0;
        var maxSeen = 0;
        var budgetReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskGraph BuildGraph(string prefix)
        {
            var builder = Exec.Graph().WithMaxDegreeOfParallelism(4).WithWorkerPool(pool);
            for (var i = 0; i < 20; i++)
            {
                var value = i;
                builder.AddTask($"{prefix}{i}", async (_, _) =>
                {
                    var now = Interlocked.Increment(ref running);
                    lock (budgetReached)
                    {
                        maxSeen = Math.Max(maxSeen, now);
                    }

                    if (now == 2)
                    {
                        budgetReached.TrySetResult();
                    }

                    await budgetReached.Task;
                    await Task.Yield();
                    Interlocked.Decrement(ref running);
                    return value;
                }, i >= 10 ? [$"{prefix}{i - 10}"] : []);
            }

            return builder.Build();
        }

        var results = await Task.WhenAll(BuildGraph("a").RunAsync(), BuildGraph("b").RunAsync()).WithTimeout();

        Assert.All(results, result => Assert.True(result.IsSuccess));
        Assert.Equal(2, maxSeen);
        Assert.Equal(7, results[1].GetValue<int>("b7"));
    }

    [Fact]
    public async Task A_disposed_pool_fails_the_tasks_and_every_task_is_still_reported()
    {
        var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(1).Build();
        await pool.DisposeAsync();
        var graph = Exec.Graph()
            .WithWorkerPool(pool)
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask("a", TaskGraphTests.Nothing)
            .AddTask("b", TaskGraphTests.Nothing, "a")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(TaskNodeStatus.Failed, result["a"].Status);
        Assert.IsType<ObjectDisposedException>(result["a"].Exception);
        Assert.Equal(TaskNodeStatus.Skipped, result["b"].Status);
    }
}
