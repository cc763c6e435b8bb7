using Microsoft.Extensions.Time.Testing;
using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Scheduling;

/// <summary>A run's <see cref="IExecComponent"/> lifecycle: Complete, Completion, DisposeAsync and its drain timeout.</summary>
public class TaskGraphLifecycleTests
{
    private static ValueTask Nothing(TaskGraphContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    [Fact]
    public async Task Complete_stops_dynamic_additions_and_the_tasks_already_in_the_run_still_run()
    {
        var completed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Exception? refused = null;
        var graph = Exec.Graph()
            .WithName("complete-graph")
            .AddTask("a", async (context, _) =>
            {
                await completed.Task;
                refused = Record.Exception(() => context.AddTask("late", Nothing));
            })
            .AddTask("b", Nothing, "a")
            .Build();

        var run = graph.Start();
        run.Complete();
        run.Complete();
        completed.SetResult();
        var result = await run.Completion.WithTimeout();
        await ((IExecComponent)run).Completion.WithTimeout();

        Assert.Equal("'complete-graph' was completed (Complete() was called): it accepts no more work.", Assert.IsType<InvalidOperationException>(refused).Message);
        Assert.True(result.IsSuccess);
        Assert.Equal(["a", "b"], result.Tasks.Select(t => t.Id));
        Assert.Equal(2, result.Ledger.Submitted);
    }

    [Fact]
    public async Task DisposeAsync_without_a_drain_timeout_waits_for_every_task()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph().AddTask("held", async (_, _) => await release.Task).AddTask("after", Nothing, "held").Build();
        var run = graph.Start();

        var disposal = run.DisposeAsync().AsTask();
        Assert.False(disposal.IsCompleted);
        release.SetResult();
        await disposal.WithTimeout();
        await run.DisposeAsync().WithTimeout();

        var result = await run.Completion.WithTimeout();
        Assert.True(result.IsSuccess);
        Assert.False(result.IsCancelled);
    }

    [Fact]
    public async Task DisposeAsync_cancels_the_rest_after_the_drain_timeout_and_reports_each_task_dropped()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var started = new TaskCompletionSource<TaskGraphContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var telemetry = new TelemetryRecorder("drained-graph", "parallelexec.graph.");
        var graph = Exec.Graph()
            .WithName("drained-graph")
            .WithTimeProvider(time)
            .WithDrainTimeout(TimeSpan.FromSeconds(5))
            .AddTask("done", Nothing)
            .AddTask("running", async (context, ct) =>
            {
                started.TrySetResult(context);
                await Task.Delay(Timeout.Infinite, ct);
            }, "done")
            .AddTask("waiting", Nothing, "running")
            .Build();
        var run = graph.Start();
        var context = await started.Task.WithTimeout();

        var disposal = run.DisposeAsync().AsTask();
        Assert.IsType<ObjectDisposedException>(Record.Exception(() => context.AddTask("late", Nothing)));
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(disposal.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await disposal.WithTimeout();

        var result = await run.Completion.WithTimeout();
        Assert.True(result.IsCancelled);
        Assert.Equal(TaskNodeStatus.Succeeded, result["done"].Status);
        Assert.Equal(TaskNodeStatus.Cancelled, result["running"].Status);
        Assert.Equal(TaskNodeStatus.Skipped, result["waiting"].Status);
        Assert.Equal("Skipped because the run was disposed and its drain timeout passed.", result["waiting"].SkipReason);
        Assert.Equal(new LedgerSnapshot { Submitted = 3, Succeeded = 1, Dropped = 2 }, result.Ledger);
        Assert.Equal(1, result.Skipped);
        Assert.Equal(result.Ledger, run.GetStatistics().Ledger);
        Assert.Equal(2, telemetry.Sum("parallelexec.graph.items.dropped", (TelemetryTagNames.DropReason, "drain_timeout")));
    }

    [Fact]
    public async Task DisposeAsync_called_by_one_of_the_run_s_own_tasks_returns_at_once()
    {
        var runs = new TaskCompletionSource<TaskGraphRun>(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .AddTask("disposer", async (_, _) => await (await runs.Task).DisposeAsync())
            .AddTask("after", Nothing, "disposer")
            .Build();

        var run = graph.Start();
        runs.SetResult(run);
        var result = await run.Completion.WithTimeout();
        await run.DisposeAsync().WithTimeout();

        Assert.True(result.IsSuccess);
    }

    [Fact]
    public async Task Statistics_carry_the_ledger_by_task_with_skips_as_cancelled()
    {
        var graph = Exec.Graph()
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask("ok", Nothing)
            .AddTask("bad", (_, _) => ValueTask.FromException(new InvalidOperationException("bad")))
            .AddTask("skipped", Nothing, "bad")
            .Build();

        var run = graph.Start();
        var result = await run.Completion.WithTimeout();
        var statistics = run.GetStatistics();

        Assert.Equal(new LedgerSnapshot { Submitted = 3, Succeeded = 1, Failed = 1, Cancelled = 1 }, statistics.Ledger);
        Assert.Equal((3L, 0, 0L, 1), (statistics.Total, statistics.Ready, statistics.Waiting, statistics.Skipped));
        Assert.Equal("TaskGraph", statistics.Name);
        Assert.Equal(statistics.Ledger, result.Ledger);
        Assert.Same(statistics.GetType(), ((IExecComponent)run).GetStatistics().GetType());
    }
}
