using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ParallelExec.Batching;
using ParallelExec.Hosting.Lifetime;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Stopping_the_host_drains_everything_accepted_each_item_ending_exactly_once()
    {
        var ended = new ConcurrentDictionary<int, int>();
        var stored = new ConcurrentDictionary<int, int>();
        using var host = TestHosts.Build(pe => pe
            .AddBatchProcessor<int, bool>("store", _ => (items, _) =>
            {
                foreach (var item in items)
                {
                    stored.AddOrUpdate(item, 1, (_, n) => n + 1);
                }

                return ValueTask.FromResult<IReadOnlyList<bool>>([.. items.Select(_ => true)]);
            }, (_, batch) => batch.WithMaxBatchSize(8).WithMaxDelay(TimeSpan.FromMilliseconds(20)))
            .AddWorkerPool("ingest", (sp, pool) => pool
                .WithMaxDegreeOfParallelism(8)
                .WithQueue(500)
                .OnDropped(item => ended.AddOrUpdate((int)item.Key!, 1, (_, n) => n + 1))));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");
        var store = host.Services.GetRequiredKeyedService<BatchProcessor<int, bool>>("store");

        // Registered after the processor, the pool is stopped first: its items still reach the processor while it drains.
        for (var id = 0; id < 200; id++)
        {
            var item = id;
            Assert.Equal(PostResult.Accepted, pool.TryPost(item, async ct =>
            {
                await Task.Yield();
                await store.SubmitAsync(item, ct);
                ended.AddOrUpdate(item, 1, (_, n) => n + 1);
            }));
        }

        await host.StopAsync().WithTimeout();

        Assert.Equal(200, ended.Count);
        Assert.All(ended.Values, count => Assert.Equal(1, count));
        Assert.Equal(200, stored.Count);
        Assert.All(stored.Values, count => Assert.Equal(1, count));
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal(200, ledger.Succeeded);
        Assert.True(ledger.IsBalanced, ledger.ToString());
        Assert.Throws<ObjectDisposedException>(() => pool.TryPost(_ => ValueTask.CompletedTask));
    }

    [Theory]
    [InlineData(30_000, 2_000)] // a tenth would be 3 s: capped at 2 s
    [InlineData(5_000, 500)] // a tenth
    [InlineData(1_000, 250)] // a tenth would be 100 ms: raised to the floor
    [InlineData(400, 200)] // the floor would be more than half: half
    [InlineData(2, 1)]
    public void The_grace_is_a_tenth_of_the_timeout_at_least_250_ms_but_at_most_half_and_at_most_2_s(int timeoutMs, int graceMs)
    {
        var timeout = TimeSpan.FromMilliseconds(timeoutMs);

        Assert.Equal(TimeSpan.FromMilliseconds(graceMs), ShutdownDrain.Grace(timeout));
        Assert.Equal(timeout - TimeSpan.FromMilliseconds(graceMs), ShutdownDrain.DrainWindow(timeout));
    }

    [Fact]
    public void An_infinite_shutdown_timeout_drains_without_a_window() =>
        Assert.Equal(Timeout.InfiniteTimeSpan, ShutdownDrain.DrainWindow(Timeout.InfiniteTimeSpan));

    [Fact]
    public async Task Work_left_at_the_hosts_deadline_is_cancelled_and_reported_once_as_drain_timeout()
    {
        var outcomes = new ConcurrentDictionary<int, string>();
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("slow", pool => pool
                .WithMaxDegreeOfParallelism(1)
                .OnDropped(item => Assert.True(outcomes.TryAdd((int)item.Key!, item.Reason.ToString())))),
            // 3 s, so that the grace (a tenth) leaves the cut work 300 ms to end and be reported: with 1 s (100 ms of
            // grace) a loaded CI machine once reached the host's deadline before the first drop was reported.
            shutdownTimeout: TimeSpan.FromSeconds(3));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("slow");

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.TryPost(0, async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        for (var id = 1; id <= 5; id++)
        {
            pool.TryPost(id, _ => ValueTask.CompletedTask);
        }

        await started.Task.WithTimeout();
        var clock = Stopwatch.StartNew();
        await host.StopAsync().WithTimeout();
        clock.Stop();

        // Drain window = 3 s less a grace of 0.3 s: never past the host's deadline, and not much earlier either.
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(2650), TimeSpan.FromSeconds(8));
        Assert.Equal(6, outcomes.Count);
        Assert.Equal(["DrainTimeout", "DrainTimeout", "DrainTimeout", "DrainTimeout", "DrainTimeout"], Enumerable.Range(1, 5).Select(i => outcomes[i]));
        Assert.Contains(outcomes[0], new[] { "DrainTimeout", "Cancelled" });
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal(0, ledger.Succeeded);
        Assert.True(ledger.IsBalanced, ledger.ToString());
        Assert.Contains(host.Logs().GetSnapshot(), r => r.Id.Name == "ShutdownDeadlineReached" && r.Message.Contains("'slow'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_components_own_drain_timeout_bounds_its_drain_below_the_hosts_deadline()
    {
        var drops = new ConcurrentBag<DropReason>();
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("bounded", pool => pool.WithMaxDegreeOfParallelism(1).OnDropped(item => drops.Add(item.Reason))),
            new Dictionary<string, string?> { ["ParallelExec:WorkerPool:bounded:DrainTimeout"] = "00:00:00.200" },
            shutdownTimeout: TimeSpan.FromSeconds(20));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("bounded");
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pool.TryPost(async ct =>
        {
            started.SetResult();
            await Task.Delay(Timeout.Infinite, ct);
        });
        pool.TryPost(_ => ValueTask.CompletedTask);
        await started.Task.WithTimeout();

        var clock = Stopwatch.StartNew();
        await host.StopAsync().WithTimeout();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"stopped after {clock.Elapsed}, not within the 0.2 s drain timeout");
        Assert.Equal(2, drops.Count);
        Assert.Contains(host.Logs().GetSnapshot(), r => r.Id.Name == "DrainTimeoutReached");
    }

    [Fact]
    public async Task Disposing_a_container_whose_host_never_started_does_not_wait_for_the_whole_queue()
    {
        var host = TestHosts.Build(pe => pe.AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(1)), shutdownTimeout: TimeSpan.FromSeconds(1));
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");
        var drops = 0;
        var gate = new TaskCompletionSource();
        for (var i = 0; i < 100; i++)
        {
            pool.TryPost(async ct => await gate.Task.WaitAsync(ct));
        }

        var clock = Stopwatch.StartNew();
        await ((IAsyncDisposable)host).DisposeAsync().AsTask().WithTimeout();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"disposal took {clock.Elapsed}");
        var ledger = pool.GetStatistics().Ledger;
        drops = (int)(ledger.Dropped + ledger.Cancelled);
        Assert.Equal(100, drops + ledger.Succeeded + ledger.Failed);
        Assert.True(ledger.IsBalanced, ledger.ToString());
        Assert.Equal(0, ledger.Queued + ledger.InFlight);
    }
}
