using ParallelExec.Scheduling;

namespace ParallelExec.Tests.Scheduling;

public class TaskGraphBuilderTests
{
    private static ValueTask<int> One(TaskGraphContext context, CancellationToken cancellationToken) => ValueTask.FromResult(1);

    [Fact]
    public void Cycle_is_reported_with_its_tasks_in_dependency_order()
    {
        var builder = Exec.Graph()
            .AddTask("a", One, "c")
            .AddTask("b", One, "a")
            .AddTask("c", One, "b");

        var error = Assert.Throws<TaskGraphValidationException>(() => builder.Build());

        Assert.Equal("The task graph has a cycle: a -> c -> b -> a (each task depends on the next).", error.Message);
        Assert.Equal(["a", "c", "b", "a"], error.Cycle);
    }

    [Fact]
    public void Cycle_behind_valid_tasks_is_found_and_starts_at_the_task_added_first()
    {
        var builder = Exec.Graph()
            .AddTask("root", One)
            .AddTask("x", One, "root", "z")
            .AddTask("q", One, "p")
            .AddTask("p", One, "root", "q")
            .AddTask("z", One);

        var error = Assert.Throws<TaskGraphValidationException>(() => builder.Build());

        Assert.Equal("The task graph has a cycle: q -> p -> q (each task depends on the next).", error.Message);
    }

    [Fact]
    public void Unknown_dependency_duplicate_id_and_self_dependency_are_reported_together()
    {
        var builder = Exec.Graph()
            .AddTask("a", One)
            .AddTask("a", One)
            .AddTask("b", One, "missing")
            .AddTask("c", One, "c");

        var error = Assert.Throws<TaskGraphValidationException>(() => builder.Build());

        Assert.Equal(
            "The task graph is invalid: Task id 'a' is used by 2 tasks. Task 'b' depends on unknown task 'missing'. Task 'c' depends on itself.",
            error.Message);
        Assert.Equal(3, error.Errors.Count);
        Assert.Null(error.Cycle);
    }

    [Fact]
    public void Invalid_options_are_listed_in_one_exception()
    {
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(0).Configure(o => o.Name = "").AddTask("a", One);

        var error = Assert.Throws<ArgumentException>(() => builder.Build());

        Assert.Equal(
            "Invalid TaskGraphOptions: Name = \"\": must not be empty or white space; MaxDegreeOfParallelism = 0: must be greater than zero. (Parameter 'Name')",
            error.Message);
    }

    [Fact]
    public void Invalid_task_options_are_listed_in_one_exception()
    {
        var options = new TaskNodeOptions { CostEstimate = -1, Timeout = TimeSpan.Zero };

        var error = Assert.Throws<ArgumentException>(() => Exec.Graph().AddTask("a", One, options));

        Assert.Equal(
            "Invalid TaskNodeOptions: CostEstimate = -1: must be finite and not negative; Timeout = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan. (Parameter 'CostEstimate')",
            error.Message);
    }

    [Fact]
    public void Bad_arguments_name_the_parameter()
    {
        var builder = Exec.Graph();

        Assert.Equal("id", Assert.Throws<ArgumentNullException>(() => builder.AddTask(null!, One)).ParamName);
        Assert.Equal("id", Assert.Throws<ArgumentException>(() => builder.AddTask(" ", One)).ParamName);
        Assert.Equal("body", Assert.Throws<ArgumentNullException>(() => builder.AddTask<int>("a", null!)).ParamName);
        Assert.Equal("dependsOn", Assert.Throws<ArgumentException>(() => builder.AddTask("a", One, "")).ParamName);
        Assert.Equal("options", Assert.Throws<ArgumentNullException>(() => builder.AddTask("a", One, (TaskNodeOptions)null!)).ParamName);
    }

    [Fact]
    public void Builder_is_single_use()
    {
        var builder = Exec.Graph().AddTask("a", One);
        builder.Build();

        var error = Assert.Throws<InvalidOperationException>(() => builder.AddTask("b", One));
        Assert.Contains("already built", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => builder.Build());
    }

    [Fact]
    public void Options_are_copied_when_the_builder_is_created()
    {
        var options = new TaskGraphOptions { MaxDegreeOfParallelism = 3, FailurePolicy = FailurePolicy.ContinueAll, Name = "g" };
        var builder = Exec.Graph(options);
        options.MaxDegreeOfParallelism = 0;

        var graph = builder.AddTask("a", One).Build();

        Assert.Equal(3, graph.MaxDegreeOfParallelism);
        Assert.Equal(FailurePolicy.ContinueAll, graph.FailurePolicy);
        Assert.Equal("g", graph.Name);
        Assert.Equal(1, graph.Count);
    }

    [Fact]
    public void Task_options_are_copied_when_the_task_is_added()
    {
        var options = new TaskNodeOptions { DependsOn = ["a"] };
        var builder = Exec.Graph().AddTask("a", One).AddTask("b", One, options);
        options.DependsOn = ["missing"];

        var graph = builder.Build();

        Assert.Equal(2, graph.Count);
    }

    [Fact]
    public void Validation_of_a_100000_task_chain_does_not_overflow_the_stack()
    {
        const int count = 100_000;
        var builder = Exec.Graph();
        for (var i = 0; i < count; i++)
        {
            builder.AddTask("n" + i, One, "n" + ((i + 1) % count));
        }

        var error = Assert.Throws<TaskGraphValidationException>(() => builder.Build());

        Assert.Equal(count + 1, error.Cycle!.Count);
        Assert.Equal("n0", error.Cycle[0]);
        Assert.Equal("n1", error.Cycle[1]);
    }
}
