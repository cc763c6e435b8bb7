using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Scheduling;

public class TaskGraphTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(3, 4)]
    [InlineData(4, 8)]
    public async Task Tasks_start_only_after_all_their_dependencies_ended(int seed, int maxParallel)
    {
        var random = new Random(seed);
        const int count = 120;
        var dependencies = RandomDag(random, count, maxDependencies: 4);
        long clock = 0;
        var starts = new long[count];
        var ends = new long[count];
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(maxParallel);
        for (var i = 0; i < count; i++)
        {
            var index = i;
            builder.AddTask($"t{i}", async (ctx, ct) =>
            {
                starts[index] = Interlocked.Increment(ref clock);
                await Task.Yield();
                var sum = index;
                foreach (var dependency in ctx.Dependencies)
                {
                    sum += ctx.GetResult<int>(dependency);
                }

                ends[index] = Interlocked.Increment(ref clock);
                return sum;
            }, dependencies[i].Select(d => $"t{d}").ToArray());
        }

        var result = await builder.Build().RunAsync().WithTimeout();

        Assert.True(result.IsSuccess);
        for (var i = 0; i < count; i++)
        {
            foreach (var d in dependencies[i])
            {
                Assert.True(ends[d] < starts[i], $"t{i} started at {starts[i]} before its dependency t{d} ended at {ends[d]}.");
                Assert.True(result[$"t{d}"].EndedAt <= result[$"t{i}"].StartedAt);
            }
        }
    }

    [Fact]
    public async Task Timestamps_come_from_the_time_provider()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var start = time.GetUtcNow();
        var graph = Exec.Graph()
            .WithTimeProvider(time)
            .WithMaxDegreeOfParallelism(1)
            .AddTask("a", (_, _) => { time.Advance(TimeSpan.FromSeconds(2)); return ValueTask.FromResult(1); })
            .AddTask("b", (_, _) => { time.Advance(TimeSpan.FromSeconds(3)); return ValueTask.FromResult(2); }, "a")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(start, result["a"].StartedAt);
        Assert.Equal(start.AddSeconds(2), result["a"].EndedAt);
        Assert.Equal(start.AddSeconds(2), result["b"].StartedAt);
        Assert.Equal(TimeSpan.FromSeconds(3), result["b"].Duration);
        Assert.Equal(TimeSpan.FromSeconds(5), result.Elapsed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task The_parallelism_bound_is_reached_and_never_exceeded(int maxParallel)
    {
        var running = 0;
        var maxSeen = 0;
        var boundReached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(maxParallel);
        for (var i = 0; i < 60; i++)
        {
            builder.AddTask($"t{i}", async (_, _) =>
            {
                var now = Interlocked.Increment(ref running);
                InterlockedMax(ref maxSeen, now);
                if (now == maxParallel)
                {
                    boundReached.TrySetResult();
                }

                // Hold the slot until the bound has been reached once, so a scheduler that overshoots shows it.
                await boundReached.Task;
                await Task.Yield();
                Interlocked.Decrement(ref running);
            }, i >= 30 ? [$"t{i - 30}"] : []);
        }

        var result = await builder.Build().RunAsync().WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(maxParallel, maxSeen);
    }

    [Fact]
    public async Task At_parallelism_one_explicit_priority_decides_the_order()
    {
        var order = new ConcurrentQueue<string>();
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(1);
        foreach (var (id, priority) in new[] { ("low", -5), ("mid", 0), ("high", 10), ("mid2", 0), ("top", 99) })
        {
            builder.AddTask(id, RecordOrder(order), new TaskNodeOptions { Priority = priority });
        }

        await builder.Build().RunAsync().WithTimeout();

        Assert.Equal(["top", "high", "mid", "mid2", "low"], order);
    }

    [Fact]
    public async Task By_default_the_longest_cost_weighted_path_runs_first()
    {
        var order = new ConcurrentQueue<string>();
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(1)
            .AddTask("short", RecordOrder(order))
            .AddTask("long1", RecordOrder(order))
            .AddTask("long2", RecordOrder(order), "long1")
            .AddTask("long3", RecordOrder(order), "long2")
            .AddTask("heavy", RecordOrder(order), new TaskNodeOptions { CostEstimate = 10 })
            .Build();

        await graph.RunAsync().WithTimeout();

        // heavy: 10; long1: 3 (long1 -> long2 -> long3); long2: 2; short and long3: 1 each, so the one ready first wins.
        Assert.Equal(["heavy", "long1", "long2", "short", "long3"], order);
    }

    [Fact]
    public async Task FailFast_cancels_running_tasks_skips_the_rest_and_reports_only_the_real_failure()
    {
        var slowStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var boom = new InvalidOperationException("boom");
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(2)
            .WithFailurePolicy(FailurePolicy.FailFast)
            .AddTask("slow", async (_, ct) =>
            {
                slowStarted.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }, new TaskNodeOptions { Priority = 2 })
            .AddTask("fail", async (_, _) =>
            {
                await slowStarted.Task;
                throw boom;
            }, new TaskNodeOptions { Priority = 1 })
            .AddTask("after", Nothing, "fail")
            .AddTask("queued", Nothing, new TaskNodeOptions { Priority = -1 })
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(TaskNodeStatus.Cancelled, result["slow"].Status);
        Assert.IsAssignableFrom<OperationCanceledException>(result["slow"].Exception);
        Assert.Equal(TaskNodeStatus.Failed, result["fail"].Status);
        Assert.Same(boom, result["fail"].Exception);
        Assert.Equal(TaskNodeStatus.Skipped, result["after"].Status);
        Assert.Equal("Skipped because task 'fail' failed (FailFast).", result["after"].SkipReason);
        Assert.Equal(TaskNodeStatus.Skipped, result["queued"].Status);
        Assert.Null(result["queued"].StartedAt);
        Assert.Same(boom, Assert.Single(result.Exception!.InnerExceptions));
        Assert.False(result.IsCancelled);
        Assert.Same(result.Exception, Assert.Throws<AggregateException>(result.ThrowIfFailed));
        // A skipped task is cancelled in the ledger: one cancelled while running plus two skipped.
        Assert.Equal((0L, 1L, 2, 3L), (result.Ledger.Succeeded, result.Ledger.Failed, result.Skipped, result.Ledger.Cancelled));
        Assert.True(result.Ledger.IsBalanced);
    }

    [Fact]
    public async Task SkipDependents_skips_transitive_dependents_and_runs_everything_else()
    {
        var graph = Exec.Graph()
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask<int>("a", (_, _) => throw new InvalidOperationException("a failed"))
            .AddTask("b", Nothing, "a")
            .AddTask("c", Nothing, "b")
            .AddTask("d", (_, _) => ValueTask.FromResult(4))
            .AddTask("e", (ctx, _) => ValueTask.FromResult(ctx.GetResult<int>("d") + 1), "d")
            .AddTask("f", Nothing, "e", "c")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(TaskNodeStatus.Failed, result["a"].Status);
        foreach (var id in new[] { "b", "c", "f" })
        {
            Assert.Equal(TaskNodeStatus.Skipped, result[id].Status);
            Assert.Equal("Skipped because task 'a' failed.", result[id].SkipReason);
        }

        Assert.Equal(5, result.GetValue<int>("e"));
        Assert.Equal("a failed", Assert.Single(result.Exception!.InnerExceptions).Message);
    }

    [Fact]
    public async Task ContinueAll_runs_dependents_of_a_failure_and_lets_them_see_it()
    {
        TaskNodeStatus seenStatus = default;
        Exception? readError = null;
        var graph = Exec.Graph()
            .WithFailurePolicy(FailurePolicy.ContinueAll)
            .AddTask<int>("a", (_, _) => throw new InvalidOperationException("a failed"))
            .AddTask("b", (ctx, _) =>
            {
                seenStatus = ctx.GetDependency("a").Status;
                readError = Record.Exception(() => ctx.GetResult<int>("a"));
                return ValueTask.FromResult("fallback");
            }, "a")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(TaskNodeStatus.Failed, seenStatus);
        var error = Assert.IsType<InvalidOperationException>(readError);
        Assert.Equal("Task 'a' has no value: it failed.", error.Message);
        Assert.Equal("a failed", error.InnerException!.Message);
        Assert.Equal("fallback", result.GetValue<string>("b"));
        Assert.Single(result.Exception!.InnerExceptions);
    }

    [Fact]
    public async Task The_callers_token_cancels_running_tasks_and_skips_queued_ones()
    {
        using var cts = new CancellationTokenSource();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(1)
            .AddTask("running", async (_, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }, new TaskNodeOptions { Priority = 1 })
            .AddTask("queued", Nothing)
            .AddTask("dependent", Nothing, "running")
            .Build();

        var run = graph.RunAsync(cts.Token);
        await started.Task.WithTimeout();
        await cts.CancelAsync();
        var result = await run.WithTimeout();

        Assert.True(result.IsCancelled);
        Assert.Null(result.Exception);
        Assert.Equal(TaskNodeStatus.Cancelled, result["running"].Status);
        Assert.Equal(TaskNodeStatus.Skipped, result["queued"].Status);
        Assert.Equal("Skipped because the run was cancelled.", result["queued"].SkipReason);
        Assert.Equal(TaskNodeStatus.Skipped, result["dependent"].Status);
        Assert.Throws<OperationCanceledException>(result.ThrowIfFailed);
    }

    [Fact]
    public async Task A_token_cancelled_before_the_run_skips_every_task()
    {
        var ran = false;
        var graph = Exec.Graph().AddTask("a", (_, _) => { ran = true; return ValueTask.CompletedTask; }).Build();

        var result = await graph.RunAsync(new CancellationToken(canceled: true)).WithTimeout();

        Assert.False(ran);
        Assert.True(result.IsCancelled);
        Assert.Equal(TaskNodeStatus.Skipped, result["a"].Status);
    }

    [Fact]
    public async Task A_task_that_exceeds_its_timeout_fails_with_TimeoutException_measured_by_the_time_provider()
    {
        var time = new FakeTimeProvider();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .WithTimeProvider(time)
            .WithFailurePolicy(FailurePolicy.SkipDependents)
            .AddTask("slow", async (_, ct) =>
            {
                started.TrySetResult();
                await Task.Delay(Timeout.InfiniteTimeSpan, ct);
            }, new TaskNodeOptions { Timeout = TimeSpan.FromSeconds(5) })
            .AddTask("after", Nothing, "slow")
            .AddTask("other", (_, _) => ValueTask.FromResult(1))
            .Build();

        var run = graph.RunAsync();
        await started.Task.WithTimeout();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(run.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        var result = await run.WithTimeout();

        Assert.Equal(TaskNodeStatus.Failed, result["slow"].Status);
        var timeout = Assert.IsType<TimeoutException>(result["slow"].Exception);
        Assert.Equal("Task 'slow' timed out after 00:00:05.", timeout.Message);
        Assert.Equal(TaskNodeStatus.Skipped, result["after"].Status);
        Assert.Equal(TaskNodeStatus.Succeeded, result["other"].Status);
        Assert.IsType<TimeoutException>(Assert.Single(result.Exception!.InnerExceptions));
        Assert.False(result.IsCancelled);
    }

    [Fact]
    public async Task A_resilience_pipeline_retries_the_task_body()
    {
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions { MaxRetryAttempts = 3, Delay = TimeSpan.Zero })
            .Build();
        var graph = Exec.Graph()
            .AddTask("flaky", (_, _) => ++attempts < 3 ? throw new InvalidOperationException("transient") : ValueTask.FromResult(attempts),
                new TaskNodeOptions { ResiliencePipeline = pipeline })
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(3, result.GetValue<int>("flaky"));
    }

    [Fact]
    public async Task Completions_stream_in_completion_order_and_progress_sees_every_task_once()
    {
        var progress = new CollectingProgress();
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(2);
        for (var i = 0; i < 50; i++)
        {
            builder.AddTask($"c{i}", async (_, _) => { await Task.Yield(); return 0; }, i == 0 ? [] : [$"c{i - 1}"]);
        }

        builder.AddTask("lone", Nothing);
        var run = builder.Build().Start(progress);
        var streamed = new List<string>();
        await foreach (var completion in run.ReadCompletionsAsync())
        {
            streamed.Add(completion.Id);
        }

        var result = await run.Completion.WithTimeout();

        Assert.Equal(51, streamed.Count);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"c{i}"), streamed.Where(id => id != "lone"));
        Assert.Equal(result.Tasks.Select(t => t.Id).Order(), progress.Items.Select(t => t.Id).Order());
        Assert.Equal(51, run.GetStatistics().Ledger.Succeeded);
        Assert.Equal(0, run.GetStatistics().Waiting);
    }

    [Fact]
    public async Task Statistics_show_a_run_in_progress()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(1)
            .AddTask("a", async (_, _) => { started.TrySetResult(); await release.Task; }, new TaskNodeOptions { Priority = 1 })
            .AddTask("b", Nothing)
            .AddTask("c", Nothing, "a")
            .Build();

        var run = graph.Start();
        await started.Task.WithTimeout();
        var statistics = run.GetStatistics();
        release.SetResult();
        await run.Completion.WithTimeout();

        Assert.Equal((3L, 1L, 1, 1L, 0L), (statistics.Total, statistics.Ledger.InFlight, statistics.Ready, statistics.Waiting, statistics.Ledger.Ended));
        Assert.Equal(2, statistics.Ledger.Queued);
        Assert.True(statistics.Ledger.IsBalanced);
    }

    [Fact]
    public async Task A_task_reads_only_its_direct_dependencies_with_their_types()
    {
        Exception? notDependency = null, wrongType = null;
        var graph = Exec.Graph()
            .AddTask("a", (_, _) => ValueTask.FromResult(1))
            .AddTask("b", (_, _) => ValueTask.FromResult("two"), "a")
            .AddTask("c", (ctx, _) =>
            {
                notDependency = Record.Exception(() => ctx.GetResult<int>("a"));
                wrongType = Record.Exception(() => ctx.GetResult<int>("b"));
                return ValueTask.FromResult(ctx.GetResult<string>("b") + "!");
            }, "b")
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal("two!", result.GetValue<string>("c"));
        Assert.Equal("taskId", Assert.IsType<ArgumentException>(notDependency).ParamName);
        Assert.IsType<InvalidCastException>(wrongType);
    }

    [Fact]
    public async Task A_graph_can_run_again_and_an_empty_graph_completes()
    {
        var count = 0;
        var graph = Exec.Graph().AddTask("a", (_, _) => ValueTask.FromResult(Interlocked.Increment(ref count))).Build();

        var first = await graph.RunAsync().WithTimeout();
        var second = await graph.RunAsync().WithTimeout();
        var empty = await Exec.Graph().Build().RunAsync().WithTimeout();

        Assert.Equal((1, 2), (first.GetValue<int>("a"), second.GetValue<int>("a")));
        Assert.True(empty.IsSuccess);
        Assert.Empty(empty.Tasks);
    }

    [Theory]
    [InlineData(FailurePolicy.FailFast)]
    [InlineData(FailurePolicy.SkipDependents)]
    [InlineData(FailurePolicy.ContinueAll)]
    public async Task Ledger_every_task_ends_exactly_once_consistent_with_the_policy(FailurePolicy policy)
    {
        for (var seed = 0; seed < 8; seed++)
        {
            var random = new Random(seed * 31 + (int)policy);
            const int count = 150;
            var dependencies = RandomDag(random, count, maxDependencies: 3);
            var failing = Enumerable.Range(0, count).Where(_ => random.NextDouble() < 0.05).ToHashSet();
            var executions = new int[count];
            var progress = new CollectingProgress();
            var builder = Exec.Graph().WithMaxDegreeOfParallelism(4).WithFailurePolicy(policy);
            for (var i = 0; i < count; i++)
            {
                var index = i;
                builder.AddTask($"t{i}", async (_, ct) =>
                {
                    Interlocked.Increment(ref executions[index]);
                    await Task.Yield();
                    ct.ThrowIfCancellationRequested();
                    if (failing.Contains(index))
                    {
                        throw new InvalidOperationException($"t{index}");
                    }
                }, dependencies[i].Select(d => $"t{d}").ToArray());
            }

            var result = await builder.Build().RunAsync(progress).WithTimeout();

            Assert.Equal(count, result.Tasks.Count);
            Assert.Equal(result.Tasks.Select(t => t.Id).Order(StringComparer.Ordinal), progress.Items.Select(t => t.Id).Order(StringComparer.Ordinal));
            Assert.Equal(count, result.Ledger.Ended);
            Assert.True(result.Ledger.IsBalanced);
            var failedIds = result.Tasks.Where(t => t.Status == TaskNodeStatus.Failed).Select(t => t.Id).ToHashSet();
            Assert.Equal(failedIds, result.Exception?.InnerExceptions.Select(e => e.Message).ToHashSet() ?? []);
            for (var i = 0; i < count; i++)
            {
                var task = result[$"t{i}"];
                Assert.Equal(task.Status == TaskNodeStatus.Skipped ? 0 : 1, executions[i]);
                Assert.True(task.Status != TaskNodeStatus.Failed || failing.Contains(i));
                if (policy != FailurePolicy.ContinueAll && task.Status == TaskNodeStatus.Succeeded)
                {
                    Assert.All(dependencies[i], d => Assert.Equal(TaskNodeStatus.Succeeded, result[$"t{d}"].Status));
                }

                if (policy != FailurePolicy.FailFast)
                {
                    // Without FailFast nothing is cancelled, and a task is skipped exactly when a dependency did not succeed.
                    Assert.NotEqual(TaskNodeStatus.Cancelled, task.Status);
                    var blocked = dependencies[i].Any(d => result[$"t{d}"].Status != TaskNodeStatus.Succeeded);
                    Assert.Equal(policy == FailurePolicy.SkipDependents && blocked, task.Status == TaskNodeStatus.Skipped);
                }
            }
        }
    }

    [Fact]
    public async Task The_run_completes_only_after_every_progress_report_has_returned()
    {
        // Task "a" fails while "b" runs; the report of "a" is held up. "b" then ends on another thread as the last task:
        // the run must still wait for the report of "a", or a caller who awaited the run could miss it.
        var reportingA = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var unblockReport = new ManualResetEventSlim();
        var releaseB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reported = new ConcurrentQueue<string>();
        var progress = new CallbackProgress(node =>
        {
            if (node.Id == "a")
            {
                reportingA.TrySetResult();
                unblockReport.Wait(TimeSpan.FromSeconds(30));
            }

            reported.Enqueue(node.Id);
        });
        var graph = Exec.Graph()
            .WithFailurePolicy(FailurePolicy.ContinueAll)
            .AddTask("a", (_, _) => throw new InvalidOperationException("a failed"))
            .AddTask("b", async (_, _) => await releaseB.Task)
            .Build();

        var run = graph.Start(progress);
        await reportingA.Task.WithTimeout();
        releaseB.SetResult();
        await TestTimeout.WaitUntilAsync(() => run.GetStatistics().Ledger.Ended == 2);

        // Every task has ended and one report is still held: the run must not complete. The short real wait gives a run
        // that finishes too early the time to show it (before the fix it completed within microseconds of "b").
        var early = await Task.WhenAny(run.Completion, Task.Delay(200));
        Assert.NotSame(run.Completion, early);

        unblockReport.Set();
        var result = await run.Completion.WithTimeout();
        Assert.Equal(["a", "b"], reported.Order(StringComparer.Ordinal));
        Assert.Equal((1L, 1L), (result.Ledger.Succeeded, result.Ledger.Failed));
    }

    [Fact]
    public async Task A_100000_task_chain_runs_without_overflowing_the_stack()
    {
        const int count = 100_000;
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(4);
        builder.AddTask("n0", (_, _) => ValueTask.FromResult(0));
        for (var i = 1; i < count; i++)
        {
            var previous = "n" + (i - 1);
            builder.AddTask("n" + i, (ctx, _) => ValueTask.FromResult(ctx.GetResult<int>(previous) + 1), previous);
        }

        var result = await builder.Build().RunAsync().WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(count - 1, result.GetValue<int>("n" + (count - 1)));
    }

    [Fact]
    public async Task A_100000_task_wide_graph_runs_every_task_once()
    {
        const int count = 100_000;
        var executions = new int[count];
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(4);
        for (var i = 0; i < count; i++)
        {
            var index = i;
            builder.AddTask("w" + i, (_, _) => { Interlocked.Increment(ref executions[index]); return ValueTask.CompletedTask; });
        }

        builder.AddTask("sink", Nothing, Enumerable.Range(0, count).Select(i => "w" + i).ToArray());

        var result = await builder.Build().RunAsync().WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.All(executions, e => Assert.Equal(1, e));
        Assert.Equal(count + 1, result.Ledger.Succeeded);
    }

    [Fact]
    public async Task Bodies_see_the_callers_AsyncLocal_values_and_not_each_others_changes()
    {
        var local = new AsyncLocal<string>();
        local.Value = "caller";
        var seen = new ConcurrentQueue<string?>();
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(1);
        for (var i = 0; i < 20; i++)
        {
            builder.AddTask($"t{i}", (_, _) =>
            {
                seen.Enqueue(local.Value);
                local.Value = "changed by a body";
                return ValueTask.CompletedTask;
            }, i == 0 ? [] : [$"t{i - 1}"]);
        }

        var graph = builder.Build();
        await graph.RunAsync().WithTimeout();

        Assert.Equal(Enumerable.Repeat<string?>("caller", 20), seen);
        Assert.Equal("caller", local.Value);
    }

    [Fact]
    public async Task Progress_callbacks_run_outside_the_scheduler_lock_and_may_throw()
    {
        var runSource = new TaskCompletionSource<TaskGraphRun>(TaskCreationOptions.RunContinuationsAsynchronously);
        var blockedProbes = 0;
        var calls = 0;
        var progress = new CallbackProgress(_ =>
        {
            Interlocked.Increment(ref calls);
            var run = runSource.Task.WaitAsync(TestTimeout.Unexpected).GetAwaiter().GetResult();

            // Another thread takes the scheduler's lock while this callback runs: it would hang if the lock were held.
            if (!Task.Run(run.GetStatistics).Wait(TestTimeout.Unexpected))
            {
                Interlocked.Increment(ref blockedProbes);
            }

            throw new InvalidOperationException("a broken progress callback");
        });
        var builder = Exec.Graph().WithMaxDegreeOfParallelism(2);
        for (var i = 0; i < 8; i++)
        {
            builder.AddTask($"t{i}", Nothing, i < 4 ? [] : [$"t{i - 4}"]);
        }

        var started = builder.Build().Start(progress);
        runSource.SetResult(started);
        var result = await started.Completion.WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(8, calls);
        Assert.Equal(0, blockedProbes);
    }

    [Fact]
    public async Task Tasks_added_after_a_FailFast_stop_are_skipped_and_reported()
    {
        var failed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var graph = Exec.Graph()
            .WithMaxDegreeOfParallelism(2)
            .AddTask("fail", (_, _) =>
            {
                failed.SetResult();
                return ValueTask.FromException(new InvalidOperationException("fail"));
            })
            .AddTask("adder", async (ctx, ct) =>
            {
                await failed.Task;
                while (!ct.IsCancellationRequested)
                {
                    await Task.Yield();
                }

                ctx.AddTask("late", Nothing);
            })
            .Build();

        var result = await graph.RunAsync().WithTimeout();

        Assert.Equal(TaskNodeStatus.Skipped, result["late"].Status);
        Assert.Equal("Skipped because task 'fail' failed (FailFast).", result["late"].SkipReason);
        Assert.Equal(TaskNodeStatus.Succeeded, result["adder"].Status);
        Assert.Equal(3, result.Tasks.Count);
    }

    internal static ValueTask Nothing(TaskGraphContext context, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private static Func<TaskGraphContext, CancellationToken, ValueTask> RecordOrder(ConcurrentQueue<string> order) =>
        (ctx, _) => { order.Enqueue(ctx.TaskId); return ValueTask.CompletedTask; };

    /// <summary>Task i depends on up to <paramref name="maxDependencies"/> tasks with smaller indices.</summary>
    internal static List<int>[] RandomDag(Random random, int count, int maxDependencies)
    {
        var dependencies = new List<int>[count];
        for (var i = 0; i < count; i++)
        {
            dependencies[i] = [];
            var wanted = i == 0 ? 0 : random.Next(0, maxDependencies + 1);
            for (var k = 0; k < wanted; k++)
            {
                var d = random.Next(0, i);
                if (!dependencies[i].Contains(d))
                {
                    dependencies[i].Add(d);
                }
            }
        }

        return dependencies;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    private sealed class CallbackProgress(Action<TaskNodeResult> callback) : IProgress<TaskNodeResult>
    {
        public void Report(TaskNodeResult value) => callback(value);
    }

    private sealed class CollectingProgress : IProgress<TaskNodeResult>
    {
        private readonly ConcurrentQueue<TaskNodeResult> _items = new();

        public IReadOnlyCollection<TaskNodeResult> Items => _items;

        public void Report(TaskNodeResult value) => _items.Enqueue(value);
    }
}
