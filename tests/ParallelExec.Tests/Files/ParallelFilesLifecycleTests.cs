using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Files;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Files;

/// <summary>ParallelFiles as an <see cref="IExecComponent"/>, its ledger by file operation, and its telemetry.</summary>
public sealed class ParallelFilesLifecycleTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Complete_refuses_new_batches_and_Completion_waits_for_the_batch_in_progress()
    {
        var files = Exec.Files().WithName("completed-files").WithMaxDegreeOfParallelism(2).Build();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batch = Collect(files.ProcessAllAsync(["a", "b", "c"], async (_, _) =>
        {
            started.TrySetResult();
            await release.Task;
        }));
        await started.Task.WithTimeout();

        files.Complete();
        var refused = Assert.Throws<InvalidOperationException>(() => files.ReadAllAsync(["x"]));
        Assert.Equal("'completed-files' was completed (Complete() was called): it accepts no more work.", refused.Message);
        Assert.False(files.Completion.IsCompleted);
        release.SetResult();

        var results = await batch.WithTimeout();
        await files.Completion.WithTimeout();
        Assert.Equal(["a", "b", "c"], results.Select(r => r.Path).Order());
        Assert.Equal(new LedgerSnapshot { Submitted = 3, Succeeded = 3 }, files.GetStatistics().Ledger);
        await files.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => files.ReadAllAsync(["x"]));
    }

    [Fact]
    public async Task DisposeAsync_cuts_a_batch_still_running_after_the_drain_timeout_and_reports_each_file_dropped()
    {
        var time = new FakeTimeProvider();
        using var telemetry = new TelemetryRecorder("drained-files", "parallelexec.files.");
        var files = new ParallelFiles(new ParallelFilesOptions
        {
            Name = "drained-files",
            MaxDegreeOfParallelism = 2,
            TimeProvider = time,
            DrainTimeout = TimeSpan.FromSeconds(1),
        });
        var running = 0;
        var bothRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batch = Collect(files.ProcessAllAsync(Enumerable.Range(0, 10).Select(i => $"f{i}"), async (_, ct) =>
        {
            if (Interlocked.Increment(ref running) == 2)
            {
                bothRunning.TrySetResult();
            }

            await Task.Delay(Timeout.Infinite, ct);
        }));
        await bothRunning.Task.WithTimeout();

        var disposal = files.DisposeAsync().AsTask();
        Assert.False(disposal.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        await disposal.WithTimeout();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => batch.WithTimeout());
        var ledger = files.GetStatistics().Ledger;
        Assert.True(ledger.Submitted >= 2, ledger.ToString());
        Assert.Equal(new LedgerSnapshot { Submitted = ledger.Submitted, Dropped = ledger.Submitted }, ledger);
        Assert.Equal(ledger.Submitted, telemetry.Sum("parallelexec.files.items.dropped", (TelemetryTagNames.DropReason, "drain_timeout")));
        Assert.True(files.Completion.IsCompleted);
    }

    [Fact]
    public async Task A_failing_input_sequence_lets_the_files_taken_before_it_finish_then_rethrows()
    {
        var paths = Enumerable.Range(0, 3).Select(i => _dir.File($"s{i}.txt")).ToArray();
        foreach (var path in paths)
        {
            await File.WriteAllTextAsync(path, "x");
        }

        await using var files = Exec.Files().WithMaxDegreeOfParallelism(2).Build();
        var results = new List<FileResult>();
        var error = await Assert.ThrowsAsync<DirectoryNotFoundException>(async () =>
        {
            await foreach (var result in files.ReadAllAsync(Vanishing(paths)))
            {
                results.Add(result);
            }
        });

        Assert.Equal("the directory vanished", error.Message);
        Assert.Equal(paths, results.Select(r => r.Path).Order());
        Assert.All(results, r => Assert.True(r.Succeeded));
        Assert.Equal(new LedgerSnapshot { Submitted = 3, Succeeded = 3 }, files.GetStatistics().Ledger);

        static IEnumerable<string> Vanishing(string[] paths)
        {
            foreach (var path in paths)
            {
                yield return path;
            }

            throw new DirectoryNotFoundException("the directory vanished");
        }
    }

    [Fact]
    public async Task Breaking_out_early_ends_every_taken_file_in_the_ledger()
    {
        await using var files = Exec.Files().WithMaxDegreeOfParallelism(2).Build();
        await foreach (var result in files.ProcessAllAsync(Enumerable.Range(0, 1000).Select(i => $"p{i}"), (_, _) => ValueTask.CompletedTask))
        {
            break;
        }

        var ledger = files.GetStatistics().Ledger;
        Assert.True(ledger.IsBalanced, ledger.ToString());
        Assert.Equal((0L, 0L), (ledger.InFlight, ledger.Queued));
        Assert.True(ledger.Submitted < 1000, ledger.ToString());
        Assert.Equal(ledger.Submitted, ledger.Succeeded + ledger.Cancelled);
    }

    [Fact]
    public async Task A_batch_has_a_span_under_its_caller_and_the_standard_instruments_count_its_files()
    {
        using var telemetry = new TelemetryRecorder("traced-files", "parallelexec.files.");
        using var source = new ActivitySource("ParallelExec.Tests.Files");
        using var listener = TelemetryRecorder.ListenTo(source);
        var good = _dir.File("good.txt");
        await File.WriteAllTextAsync(good, "12345");
        await using var files = Exec.Files().WithName("traced-files").Build();

        List<FileResult> results;
        ActivitySpanId callerSpan;
        using (var caller = source.StartActivity("caller")!)
        {
            callerSpan = caller.SpanId;
            results = await Collect(files.ReadAllAsync([good, _dir.File("missing.txt")]));
        }

        Assert.Single(results, r => r.Succeeded);
        var span = Assert.Single(telemetry.Spans, s => s.OperationName == "parallelexec.files.batch");
        Assert.Equal(callerSpan, span.ParentSpanId);
        Assert.Equal("read", span.GetTagItem(TelemetryTagNames.Operation));
        Assert.Equal(2, telemetry.Sum("parallelexec.files.items.submitted"));
        Assert.Equal(1, telemetry.Sum("parallelexec.files.items.failed"));
        Assert.Equal(5, telemetry.Sum("parallelexec.files.bytes", (TelemetryTagNames.Operation, "read")));
        Assert.Equal(1, telemetry.Count("parallelexec.files.run.duration", (TelemetryTagNames.Outcome, "succeeded"), (TelemetryTagNames.Operation, "read")));
        Assert.Equal(1, telemetry.Count("parallelexec.files.run.duration", (TelemetryTagNames.Outcome, "failed")));
        Assert.Equal(2, telemetry.Count("parallelexec.files.wait.duration"));
        Assert.Equal(new LedgerSnapshot { Submitted = 2, Succeeded = 1, Failed = 1 }, files.GetStatistics().Ledger);
    }

    private static async Task<List<FileResult>> Collect(IAsyncEnumerable<FileResult> results)
    {
        var list = new List<FileResult>();
        await foreach (var result in results)
        {
            list.Add(result);
        }

        return list;
    }
}
