using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Scheduling;

public class TaskGraphContextTests
{
    [Fact]
    public async Task A_running_task_fans_out_and_a_dynamic_join_reads_every_child()
    {
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(3)
            .AddTask("discover", (ctx, _) =>
            {
                var children = new List<string>();
                for (var i = 1; i <= 10; i++)
                {
                    var value = i;
                    ctx.AddTask($"child{i}", async (_, _) => { await Task.Yield(); return value; });
                    children.Add($"child{i}");
                }

                ctx.AddTask("join", (join, _) => ValueTask.FromResult(children.Sum(join.GetResult<int>)), [.. children, "discover"]);
                return ValueTask.FromResult(children.Count);
            })
            .AddTask("static", (ctx, _) => ValueTask.FromResult(ctx.GetResult<int>("discover") * 2), "discover")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(13, result.Tasks.Count);
        Assert.Equal(55, result.GetValue<int>("join"));
        Assert.Equal(20, result.GetValue<int>("static"));
        Assert.Equal("discover", result["child3"].AddedBy);
        Assert.Null(result["static"].AddedBy);
        Assert.True(result["join"].StartedAt >= result["discover"].EndedAt);
    }

    [Fact]
    public async Task A_set_of_added_tasks_may_reference_each_other_in_any_order()
    {
        var graph = Exec.Graph()
            .AddTask("root", (ctx, _) =>
            {
                ctx.AddTasks(set => set
                    .AddTask("sum", (c, _) => ValueTask.FromResult(c.GetResult<int>("x") + c.GetResult<int>("y")), "x", "y")
                    .AddTask("x", (_, _) => ValueTask.FromResult(2))
                    .AddTask("y", (c, _) => ValueTask.FromResult(c.GetResult<int>("x") * 10), "x"));
                return ValueTask.CompletedTask;
            })
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(22, result.GetValue<int>("sum"));
    }

    [Fact]
    public async Task Added_tasks_are_validated_like_a_built_graph()
    {
        var errors = new List<string>();
        var graph = Exec.Graph()
            .AddTask("existing", TaskGraphTests.Nothing)
            .AddTask("parent", (ctx, _) =>
            {
                errors.Add(Assert.Throws<TaskGraphValidationException>(() => ctx.AddTask("existing", TaskGraphTests.Nothing)).Message);
                errors.Add(Assert.Throws<TaskGraphValidationException>(() => ctx.AddTask("child", TaskGraphTests.Nothing, "nowhere")).Message);
                errors.Add(Assert.Throws<TaskGraphValidationException>(() => ctx.AddTask("self", TaskGraphTests.Nothing, "self")).Message);
                var cycle = Assert.Throws<TaskGraphValidationException>(() => ctx.AddTasks(set => set
                    .AddTask("p", TaskGraphTests.Nothing, "q")
                    .AddTask("q", TaskGraphTests.Nothing, "r", "existing")
                    .AddTask("r", TaskGraphTests.Nothing, "p")));
                errors.Add(cycle.Message);
                return ValueTask.CompletedTask;
            }, "existing")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(
            [
                "The set of tasks added by task 'parent' is invalid: Task id 'existing' already exists in the running graph.",
                "The set of tasks added by task 'parent' is invalid: Task 'child' depends on unknown task 'nowhere'.",
                "The set of tasks added by task 'parent' is invalid: Task 'self' depends on itself.",
                "The set of tasks added by task 'parent' has a cycle: p -> q -> r -> p (each task depends on the next).",
            ],
            errors);

        // Rejected sets add nothing.
        Assert.Equal(2, result.Tasks.Count);
        Assert.True(result.IsSuccess);
    }

    [Fact]
    public async Task A_task_cannot_add_tasks_after_it_ended()
    {
        TaskGraphContext captured = default;
        var graph = Exec.Graph().AddTask("a", (ctx, _) => { captured = ctx; return ValueTask.CompletedTask; }).Build();
        await graph.RunAsync().WithTimeout();

        var error = Assert.Throws<InvalidOperationException>(() => captured.AddTask("late", TaskGraphTests.Nothing));

        Assert.Equal("Task 'a' has ended: a task can add tasks only while it runs.", error.Message);
        Assert.Throws<InvalidOperationException>(() => default(TaskGraphContext).TaskId);
    }

    [Fact]
    public async Task A_task_added_after_its_dependency_failed_is_skipped_under_SkipDependents()
    {
        var graph = Exec.Graph()
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask("bad", (_, _) => ValueTask.FromException(new InvalidOperationException("bad")))
            .AddTask("late", (ctx, _) =>
            {
                ctx.AddTask("needs-bad", TaskGraphTests.Nothing, "bad");
                ctx.AddTask("needs-needs-bad", TaskGraphTests.Nothing, "needs-bad");
                return ValueTask.CompletedTask;
            }, new TaskNodeOptions { Priority = -1 })
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        // "late" may start before or after "bad" ends; either way the added tasks never run.
        Assert.Equal(TaskNodeStatus.Skipped, result["needs-bad"].Status);
        Assert.Equal(TaskNodeStatus.Skipped, result["needs-needs-bad"].Status);
        Assert.Equal(TaskNodeStatus.Succeeded, result["late"].Status);
    }
}
