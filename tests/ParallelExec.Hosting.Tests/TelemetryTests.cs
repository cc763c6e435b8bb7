using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ParallelExec.Hosting.Tests.Infrastructure;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Hosting.Tests;

public sealed class TelemetryTests
{
    [Fact]
    public async Task AddParallelExecInstrumentation_exports_the_components_spans_and_metrics()
    {
        var spans = new List<Activity>();
        var metrics = new List<Metric>();
        using var host = TestHosts.Build(
            pe => pe.AddWorkerPool("otel-ingest"),
            services: s => s.AddOpenTelemetry()
                .WithTracing(tracing => tracing.AddParallelExecInstrumentation().AddInMemoryExporter(spans))
                .WithMetrics(meters => meters.AddParallelExecInstrumentation().AddInMemoryExporter(metrics)));
        await host.StartAsync().WithTimeout();
        var pool = host.Services.GetRequiredKeyedService<WorkerPool>("otel-ingest");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(i, await pool.RunAsync(_ => ValueTask.FromResult(i)).AsTask().WithTimeout());
        }

        host.Services.GetRequiredService<MeterProvider>().ForceFlush();
        host.Services.GetRequiredService<TracerProvider>().ForceFlush();

        var mine = spans.Where(a => a.OperationName == "parallelexec.workerpool.item" && (string?)a.GetTagItem(TelemetryTagNames.Name) == "otel-ingest").ToList();
        Assert.Equal(5, mine.Count);
        Assert.All(mine, span => Assert.Equal("succeeded", span.GetTagItem(TelemetryTagNames.Outcome)));

        // Parallel tests' hosts export the same instrument from their own meters: one stream per meter, and this pool's
        // points (tagged with its unique name) are all in one of them.
        long total = 0;
        foreach (var submitted in metrics.Where(m => m.Name == "parallelexec.workerpool.items.submitted"))
        {
            long sum = 0;
            foreach (ref readonly var point in submitted.GetMetricPoints())
            {
                foreach (var tag in point.Tags)
                {
                    if (tag.Key == TelemetryTagNames.Name && (string?)tag.Value == "otel-ingest")
                    {
                        sum += point.GetSumLong();
                    }
                }
            }

            total = Math.Max(total, sum);
        }

        Assert.Equal(5, total);
        await host.StopAsync().WithTimeout();
    }
}
