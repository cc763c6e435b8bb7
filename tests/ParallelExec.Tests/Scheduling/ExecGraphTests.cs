using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Scheduling;

public class ExecGraphTests
{
    [Fact]
    public async Task RunAllAsync_returns_every_result_in_input_order_within_the_bound()
    {
        var running = 0;
        var maxSeen = 0;
        var tasks = Enumerable.Range(0, 40).Select(i => new Func<CancellationToken, ValueTask<int>>(async _ =>
        {
            var now = Interlocked.Increment(ref running);
            lock (tasksLock)
            {
                maxSeen = Math.Max(maxSeen, now);
            }

            await Task.Yield();
            Interlocked.Decrement(ref running);
            return i * i;
        }));

        var result = await Exec.RunAllAsync(tasks, maxDegreeOfParallelism: 3).WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(Enumerable.Range(0, 40).Select(i => i * i), result.Tasks.Select(t => t.GetValue<int>()));
        Assert.InRange(maxSeen, 1, 3);
    }

    [Fact]
    public async Task RunAllAsync_with_ContinueAll_runs_every_task_and_collects_the_failures()
    {
        var ran = 0;
        var tasks = Enumerable.Range(0, 10).Select(i => new Func<CancellationToken, ValueTask>(_ =>
        {
            Interlocked.Increment(ref ran);
            return i % 3 == 0 ? ValueTask.FromException(new InvalidOperationException($"#{i}")) : ValueTask.CompletedTask;
        }));

        var result = await Exec.RunAllAsync(tasks, 2, FailurePolicy.ContinueAll).WithTimeout();

        Assert.Equal(10, ran);
        Assert.Equal(["#0", "#3", "#6", "#9"], result.Exception!.InnerExceptions.Select(e => e.Message).Order());
        Assert.Equal(TaskNodeStatus.Failed, result["3"].Status);
    }

    [Fact]
    public async Task RunAllAsync_checks_its_arguments()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => Exec.RunAllAsync((IEnumerable<Func<CancellationToken, ValueTask>>)null!, 1));
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Exec.RunAllAsync(Array.Empty<Func<CancellationToken, ValueTask>>(), 0));
        Assert.Equal("maxDegreeOfParallelism", error.ParamName);
        await Assert.ThrowsAsync<ArgumentNullException>(() => Exec.RunAllAsync(new Func<CancellationToken, ValueTask>[] { null! }, 1));
    }

    private static readonly object tasksLock = new();
}
