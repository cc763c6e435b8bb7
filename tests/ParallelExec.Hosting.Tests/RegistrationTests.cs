using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Files;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Memory;
using ParallelExec.Net;
using ParallelExec.Scheduling;
using ParallelExec.Sqlite;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public async Task Named_and_default_components_resolve_keyed_and_unkeyed_as_one_instance_each()
    {
        using var host = TestHosts.Build(pe => pe
            .AddWorkerPool()
            .AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(3))
            .AddCoordinationBus("events")
            .AddParallelFiles("files")
            .AddHttpGate("llm")
            .AddBatchProcessor<int, int>("double", _ => (items, _) => ValueTask.FromResult<IReadOnlyList<int>>([.. items.Select(i => i * 2)])));
        await host.StartAsync().WithTimeout();

        var ingest = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");
        var unnamed = host.Services.GetRequiredService<WorkerPool>();
        Assert.NotSame(ingest, unnamed);
        Assert.Same(ingest, host.Services.GetRequiredKeyedService<WorkerPool>("ingest"));
        Assert.Equal("ingest", ingest.Name);
        Assert.Equal("WorkerPool", unnamed.Name);
        Assert.Equal(3, ingest.MaxDegreeOfParallelism);
        Assert.Equal("events", host.Services.GetRequiredKeyedService<CoordinationBus>("events").Name);
        Assert.Equal("files", host.Services.GetRequiredKeyedService<ParallelFiles>("files").Name);
        Assert.Equal("llm", host.Services.GetRequiredKeyedService<HttpGate>("llm").Name);

        var batch = host.Services.GetRequiredKeyedService<BatchProcessor<int, int>>("double");
        Assert.Equal(42, await batch.SubmitAsync(21).AsTask().WithTimeout());
        Assert.Equal(7, await ingest.RunAsync(_ => ValueTask.FromResult(7)).AsTask().WithTimeout());

        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public void Registering_the_same_name_twice_throws_naming_it()
    {
        var services = new ServiceCollection();
        var builder = services.AddParallelExec().AddWorkerPool("ingest");
        var exception = Assert.Throws<ArgumentException>(() => builder.AddWorkerPool("ingest"));
        Assert.Contains("WorkerPool 'ingest' is already registered", exception.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => builder.AddWorkerPool(" "));
    }

    [Fact]
    public async Task Components_take_the_hosts_clock_and_meter_factory()
    {
        var dropped = new TaskCompletionSource<DroppedItem>(TaskCreationOptions.RunContinuationsAsynchronously);
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2030-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("ingest", pool => pool
                .WithQueue(1, QueueFullMode.Reject)
                .WithMaxDegreeOfParallelism(1)
                .OnDropped(item => dropped.TrySetResult(item))),
            services: s => s.AddSingleton<TimeProvider>(clock));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("ingest");
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();

        // The pool's meter comes from the host's factory: a listener scoped to that factory's meters sees its instruments.
        var seen = new List<string>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meterFactory && instrument.Name.StartsWith("parallelexec.workerpool", StringComparison.Ordinal))
            {
                lock (seen)
                {
                    seen.Add(instrument.Name);
                }
            }
        };
        listener.Start();
        Assert.Contains("parallelexec.workerpool.items.submitted", seen);

        // The drop timestamp is the fake clock's: the pool runs on the host's TimeProvider.
        var blocker = await Blocker.OccupyAsync(pool);
        Assert.Equal(PostResult.Accepted, pool.TryPost(_ => ValueTask.CompletedTask));
        Assert.Equal(PostResult.Rejected, pool.TryPost("third", _ => ValueTask.CompletedTask));
        var drop = host.Logs().GetSnapshot().Single(r => r.Id.Name == "ItemDropped");
        Assert.Contains("third", drop.Message, StringComparison.Ordinal);
        var item = await dropped.Task.WithTimeout();
        Assert.Equal(clock.GetUtcNow(), item.Timestamp);
        Assert.Equal("third", item.Key);
        blocker.Release();
        await host.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task Memory_stores_resolve_as_themselves_and_as_IMemoryStore_with_batching_in_front()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pe-hosting-{Guid.NewGuid():N}.db");
        try
        {
            using (var host = TestHosts.Build(pe => pe
                .AddMemoryStore("cache")
                .AddSqliteMemoryStore("docs", path).WithBatching(b => b.WithBatching(16, TimeSpan.FromMilliseconds(5)))))
            {
                await host.StartAsync().WithTimeout();
                var cache = host.Services.GetRequiredKeyedService<IMemoryStore>("cache");
                Assert.IsType<InMemoryStore>(cache);
                var docs = host.Services.GetRequiredKeyedService<IMemoryStore>("docs");
                var batching = Assert.IsType<BatchingMemoryStore>(docs);
                Assert.Equal("docs-batching", batching.Name);
                Assert.Equal("docs", host.Services.GetRequiredKeyedService<SqliteMemoryStore>("docs").Name);

                await Task.WhenAll(Enumerable.Range(0, 50).Select(i => docs.SetAsync("ns", $"k{i}", new[] { (byte)i }).AsTask())).WithTimeout();
                await host.StopAsync().WithTimeout();
            }

            // The batching front drained into SQLite before the store closed: every write is in the file.
            await using var reopened = new SqliteMemoryStore(path);
            var keys = await reopened.ListKeysAsync("ns").AsTask().WithTimeout();
            Assert.Equal(50, keys.Count);
        }
        finally
        {
            foreach (var file in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(path) + "*"))
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task Task_graph_defaults_come_from_code_and_configuration()
    {
        using var host = TestHosts.Build(
            pe => pe.AddTaskGraph("etl", o => o.MaxDegreeOfParallelism = 2),
            new Dictionary<string, string?> { ["ParallelExec:TaskGraph:etl:FailurePolicy"] = "ContinueAll" });
        await host.StartAsync().WithTimeout();
        var factory = host.Services.GetRequiredKeyedService<TaskGraphFactory>("etl");
        Assert.Equal("etl", factory.Name);
        var graph = factory.CreateBuilder()
            .AddTask("a", (_, _) => ValueTask.FromResult(1))
            .AddTask("b", (_, _) => ValueTask.FromResult(2), "a")
            .Build();
        Assert.Equal(2, graph.MaxDegreeOfParallelism);
        Assert.Equal(FailurePolicy.ContinueAll, graph.FailurePolicy);
        var result = await graph.RunAsync().WithTimeout();
        result.ThrowIfFailed();
        await host.StopAsync().WithTimeout();
    }
}
