using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using ParallelExec.Agents;
using ParallelExec.Coordination;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class HealthTests
{
    [Fact]
    public async Task A_pool_goes_healthy_to_degraded_when_its_queue_saturates_and_unhealthy_once_closed()
    {
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(1).WithQueue(10, QueueFullMode.Reject)),
            services: s => s.AddHealthChecks().AddParallelExec(saturation: 0.8));
        await host.StartAsync().WithTimeout();
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");

        var report = await health.CheckHealthAsync().WithTimeout();
        var entry = report.Entries["parallelexec:WorkerPool:ingest"];
        Assert.Equal(HealthStatus.Healthy, entry.Status);

        var blocker = await Blocker.OccupyAsync(pool);
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(PostResult.Accepted, pool.TryPost(_ => new ValueTask(blocker.Released)));
        }

        entry = (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:WorkerPool:ingest"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("queue saturated (8 of 10)", entry.Description, StringComparison.Ordinal);
        Assert.Equal(8L, entry.Data["queued"]);
        Assert.Equal(1L, entry.Data["inFlight"]);
        Assert.Equal(10, entry.Data["queueCapacity"]);
        Assert.Equal(9L, entry.Data["submitted"]);

        blocker.Release();
        await host.StopAsync().WithTimeout();
        entry = (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:WorkerPool:ingest"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("closed", entry.Description, StringComparison.Ordinal);
        Assert.Equal(9L, entry.Data["succeeded"]);
    }

    [Fact]
    public async Task A_bus_is_degraded_when_its_subscribers_mailboxes_fill()
    {
        using var host = TestHosts.Build(
            pe => pe.AddCoordinationBus("events", bus => bus.WithQueue(4)),
            services: s => s.AddHealthChecks().AddParallelExec(saturation: 0.75));
        await host.StartAsync().WithTimeout();
        var bus = host.Services.GetRequiredKeyedService<CoordinationBus>("events");
        var health = host.Services.GetRequiredService<HealthCheckService>();
        var release = new TaskCompletionSource();
        var handling = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Subscribe<int>("jobs", async (_, _) =>
        {
            handling.TrySetResult();
            await release.Task;
        });
        await bus.PublishAsync("jobs", 0).AsTask().WithTimeout();
        await handling.Task.WithTimeout();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:CoordinationBus:events"].Status);

        for (var i = 1; i <= 3; i++)
        {
            await bus.PublishAsync("jobs", i).AsTask().WithTimeout();
        }

        var entry = (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:CoordinationBus:events"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("queue saturated (3 of 4)", entry.Description, StringComparison.Ordinal);
        release.SetResult();
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task A_gate_with_a_paused_provider_is_degraded_and_names_it()
    {
        using var host = TestHosts.Build(pe => pe.AddHttpGate("llm"), services: s => s.AddHealthChecks().AddParallelExec());
        await host.StartAsync().WithTimeout();
        var gate = host.Services.GetRequiredKeyedService<HttpGate>("llm");
        var health = host.Services.GetRequiredService<HealthCheckService>();
        await gate.RunAsync("openai", _ => ValueTask.FromResult(1)).WithTimeout();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:HttpGate:llm"].Status);

        gate.Pause("openai", TimeSpan.FromMinutes(5));
        var entry = (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:HttpGate:llm"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("provider 'openai' paused", entry.Description, StringComparison.Ordinal);
        Assert.True((double)entry.Data["paused.openai"] > 200);
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task An_agent_pool_that_cannot_spawn_is_unhealthy()
    {
        using var host = TestHosts.Build(
            pe => pe.AddAgentPool<IAgent>("agents", _ => new FailingFactory(), (_, pool) => pool.WithMaxAgents(1)),
            services: s => s.AddHealthChecks().AddParallelExec());
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<AgentPool<IAgent>>("agents");
        var health = host.Services.GetRequiredService<HealthCheckService>();
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:AgentPool:agents"].Status);

        await Assert.ThrowsAnyAsync<Exception>(() => pool.RunAsync("hello").AsTask().WithTimeout());
        var entry = (await health.CheckHealthAsync().WithTimeout()).Entries["parallelexec:AgentPool:agents"];
        Assert.Equal(HealthStatus.Unhealthy, entry.Status);
        Assert.Contains("unable to spawn", entry.Description, StringComparison.Ordinal);
        Assert.True((long)entry.Data["spawnFailures"] >= 1);
        await host.StopAsync().WithTimeout();
    }

    private sealed class FailingFactory : IAgentFactory<IAgent>
    {
        public ValueTask<IAgent> CreateAsync(AgentSpec spec, CancellationToken cancellationToken = default) =>
            throw new InvalidOperationException("no agent binary on this machine");
    }
}
