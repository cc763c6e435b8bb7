using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Net;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class ConfigurationTests
{
    [Fact]
    public async Task Appsettings_shaped_configuration_binds_each_named_component_and_wins_over_code()
    {
        using var host = TestHosts.Build(
            pe => pe
                .AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(2).WithQueue(10))
                .AddWorkerPool(configure: pool => pool.WithMaxDegreeOfParallelism(5))
                .AddHttpGate("llm"),
            new Dictionary<string, string?>
            {
                ["ParallelExec:WorkerPool:ingest:MaxDegreeOfParallelism"] = "7",
                ["ParallelExec:WorkerPool:ingest:QueueCapacity"] = "3",
                ["ParallelExec:WorkerPool:ingest:FullMode"] = "Reject",
                ["ParallelExec:WorkerPool:Default:MaxDegreeOfParallelism"] = "6",
                ["ParallelExec:HttpGate:llm:MaxDegreeOfParallelism"] = "4",
                ["ParallelExec:HttpGate:llm:Providers:openai:RequestLimit"] = "60",
            });
        await host.StartAsync().WithTimeout();

        var ingest = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");
        Assert.Equal(7, ingest.MaxDegreeOfParallelism);
        Assert.Equal(6, host.Services.GetRequiredService<WorkerPool>().MaxDegreeOfParallelism);

        // QueueCapacity 3 with Reject: once seven run, three more wait in the queue and the eleventh is refused.
        var blockers = new List<Blocker>();
        for (var i = 0; i < 7; i++)
        {
            blockers.Add(await Blocker.OccupyAsync(ingest));
        }

        var results = Enumerable.Range(0, 4).Select(_ => ingest.TryPost(_ => new ValueTask(blockers[0].Released))).ToArray();
        Assert.Equal([PostResult.Accepted, PostResult.Accepted, PostResult.Accepted, PostResult.Rejected], results);
        blockers.ForEach(b => b.Release());

        var gate = host.Services.GetRequiredKeyedService<HttpGate>("llm");
        Assert.Equal(42, await gate.RunAsync("openai", _ => ValueTask.FromResult(42)).WithTimeout());
        Assert.Equal(60, gate.GetStatistics().Providers["openai"].AvailableRequests + 1);
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task Invalid_options_stop_the_start_with_the_librarys_message_for_every_component()
    {
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("ingest").AddCoordinationBus("events", bus => bus.WithQueue(-1)),
            new Dictionary<string, string?>
            {
                ["ParallelExec:WorkerPool:ingest:MaxDegreeOfParallelism"] = "0",
                ["ParallelExec:WorkerPool:ingest:QueueCapacity"] = "-5",
            });

        var exception = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync().WithTimeout());
        Assert.Contains("Invalid WorkerPoolOptions: MaxDegreeOfParallelism = 0: must be greater than zero; QueueCapacity = -5", exception.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid CoordinationBusOptions: QueueCapacity = -1", exception.Message, StringComparison.Ordinal);
        Assert.Equal(2, exception.Failures.Count());
    }

    [Fact]
    public async Task A_misspelt_or_malformed_key_fails_the_start_naming_the_section()
    {
        using var misspelt = TestHosts.Build(
            pe => pe.AddWorkerPool("ingest"),
            new Dictionary<string, string?> { ["ParallelExec:WorkerPool:ingest:MaxDegreeOfParalelism"] = "4" });
        var unknown = await Assert.ThrowsAsync<OptionsValidationException>(() => misspelt.StartAsync().WithTimeout());
        Assert.Contains("'ParallelExec:WorkerPool:ingest'", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("MaxDegreeOfParalelism", unknown.Message, StringComparison.Ordinal);

        using var malformed = TestHosts.Build(
            pe => pe.AddWorkerPool("ingest"),
            new Dictionary<string, string?> { ["ParallelExec:WorkerPool:ingest:FullMode"] = "Sometimes" });
        var bad = await Assert.ThrowsAsync<OptionsValidationException>(() => malformed.StartAsync().WithTimeout());
        Assert.Contains("FullMode", bad.Message, StringComparison.Ordinal);
    }
}
