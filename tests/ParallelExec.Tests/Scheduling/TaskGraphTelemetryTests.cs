using System.Diagnostics;
using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Scheduling;

/// <summary>The graph's standard instruments and its spans: a run span under the caller, a task span per task under it.</summary>
public class TaskGraphTelemetryTests
{
    [Fact]
    public async Task A_run_has_a_span_under_its_caller_and_a_child_span_per_task()
    {
        using var telemetry = new TelemetryRecorder("traced-graph", "parallelexec.graph.");
        using var source = new ActivitySource("ParallelExec.Tests.Graph");
        using var listener = TelemetryRecorder.ListenTo(source);
        var seenInBody = new System.Collections.Concurrent.ConcurrentDictionary<string, string?>();
        var graph = Exec.Graph()
            .WithName("traced-graph")
            .WithFailurePolicy(FailurePolicy.ContinueAll)
            .AddTask("a", (context, _) =>
            {
                seenInBody[context.TaskId] = Activity.Current?.OperationName;
                return ValueTask.CompletedTask;
            })
            .AddTask("b", (_, _) => ValueTask.FromException(new InvalidOperationException("b failed")), "a")
            .Build();

        TaskGraphResult result;
        string callerTraceId;
        string callerSpanId;
        using (var caller = source.StartActivity("caller")!)
        {
            callerTraceId = caller.TraceId.ToString();
            callerSpanId = caller.SpanId.ToString();
            result = await graph.RunAsync().WithTimeout();
            Assert.Same(caller, Activity.Current);
        }

        Assert.Equal(TaskNodeStatus.Failed, result["b"].Status);
        var run = Assert.Single(telemetry.Spans, s => s.OperationName == "parallelexec.graph.run");
        Assert.Equal(callerSpanId, run.ParentSpanId.ToString());
        Assert.Equal(callerTraceId, run.TraceId.ToString());
        Assert.Equal(ActivityStatusCode.Error, run.Status);
        var tasks = telemetry.Spans.Where(s => s.OperationName == "parallelexec.graph.task").ToList();
        Assert.Equal(["a", "b"], tasks.Select(t => (string)t.GetTagItem("parallelexec.graph.task.id")!).Order());
        Assert.All(tasks, t => Assert.Equal(run.SpanId, t.ParentSpanId));
        var failed = Assert.Single(tasks, t => Equals(t.GetTagItem("parallelexec.graph.task.id"), "b"));
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Contains(failed.Events, e => e.Name == "exception");
        Assert.Equal("failed", failed.GetTagItem(TelemetryTagNames.Outcome));
        Assert.Equal("parallelexec.graph.task", seenInBody["a"]);
    }

    [Fact]
    public async Task The_standard_instruments_count_tasks_by_outcome_and_the_gauges_see_a_live_run()
    {
        using var telemetry = new TelemetryRecorder("metered-graph", "parallelexec.graph.");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .WithName("metered-graph")
            .WithMaxDegreeOfParallelism(1)
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask("held", async (_, _) => { started.TrySetResult(); await release.Task; }, new TaskNodeOptions { Priority = 1 })
            .AddTask("ok", (_, _) => ValueTask.CompletedTask)
            .AddTask("bad", (_, _) => ValueTask.FromException(new InvalidOperationException("bad")), "held")
            .AddTask("skipped", (_, _) => ValueTask.CompletedTask, "bad")
            .Build();

        var run = graph.Start();
        await started.Task.WithTimeout();
        telemetry.RecordObservables();
        Assert.Equal(1, telemetry.Last("parallelexec.graph.in_flight"));
        Assert.Equal(3, telemetry.Last("parallelexec.graph.queue.length"));
        release.SetResult();
        await run.Completion.WithTimeout();

        Assert.Equal(4, telemetry.Sum("parallelexec.graph.items.submitted"));
        Assert.Equal(1, telemetry.Sum("parallelexec.graph.items.failed"));
        Assert.Equal(1, telemetry.Sum("parallelexec.graph.items.skipped"));
        Assert.Equal(2, telemetry.Count("parallelexec.graph.run.duration", (TelemetryTagNames.Outcome, "succeeded")));
        Assert.Equal(1, telemetry.Count("parallelexec.graph.run.duration", (TelemetryTagNames.Outcome, "failed")));
        Assert.Equal(3, telemetry.Count("parallelexec.graph.wait.duration"));
    }
}
