using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests.Infrastructure;

/// <summary>
/// Occupies one worker of a pool until released: posted, then awaited until it runs, so the queue's state after it is
/// known (a post right after another may find the first still queued).
/// </summary>
internal sealed class Blocker
{
    private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Released => _release.Task;

    public static async Task<Blocker> OccupyAsync(WorkerPool pool, object? key = null)
    {
        var blocker = new Blocker();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<CancellationToken, ValueTask> work = async _ =>
        {
            started.SetResult();
            await blocker._release.Task;
        };
        Assert.Equal(PostResult.Accepted, key is null ? pool.TryPost(work) : pool.TryPost(key, work));
        await started.Task.WithTimeout();
        return blocker;
    }

    public void Release() => _release.TrySetResult();
}
