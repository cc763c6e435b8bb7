using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using ParallelExec;
using ParallelExec.Batching;
using ParallelExec.Coordination;
using ParallelExec.Hosting;
using ParallelExec.Memory;
using ParallelExec.Workers;
using WebIngest;

var builder = WebApplication.CreateBuilder(args);

// Every component is named; each name is also its configuration section (ParallelExec:<Kind>:<name>, see appsettings.json)
// and its key ([FromKeyedServices("ingest")]). They stop in the reverse order they are built: the pool drains into the
// batch processor, which drains into the store.
builder.Services.AddParallelExec()
    .AddSqliteMemoryStore("documents", "webingest.db")
    .AddBatchProcessor<Document, bool>("store",
        sp => new DocumentStore(sp.GetRequiredKeyedService<IMemoryStore>("documents")).WriteAsync,
        (_, batch) => batch.WithMaxBatchSize(100).WithMaxDelay(TimeSpan.FromMilliseconds(20)))
    .AddCoordinationBus("events")
    .AddWorkerPool("ingest", pool => pool.WithMaxDegreeOfParallelism(4).WithQueue(1000, QueueFullMode.Reject));
builder.Services.AddSingleton(sp => new DocumentStore(sp.GetRequiredKeyedService<IMemoryStore>("documents")));
builder.Services.AddSingleton(sp => new IngestStatistics(sp.GetRequiredKeyedService<CoordinationBus>("events")));
builder.Services.AddHealthChecks().AddParallelExec();

var telemetry = builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics => metrics.AddParallelExecInstrumentation())
    .WithTracing(tracing => tracing.AddParallelExecInstrumentation());
if (builder.Configuration.GetValue("WebIngest:ConsoleExporter", true))
{
    telemetry.WithMetrics(metrics => metrics.AddConsoleExporter()).WithTracing(tracing => tracing.AddConsoleExporter());
}

var app = builder.Build();

// Subscribe to the bus before the first document arrives.
app.Services.GetRequiredService<IngestStatistics>();

app.MapPost("/documents", (
    Document document,
    [FromKeyedServices("ingest")] WorkerPool pool,
    [FromKeyedServices("store")] BatchProcessor<Document, bool> store,
    [FromKeyedServices("events")] CoordinationBus bus) =>
{
    if (string.IsNullOrWhiteSpace(document.Id))
    {
        return Results.ValidationProblem(new Dictionary<string, string[]> { ["id"] = ["A document needs an id."] });
    }

    PostResult result;
    try
    {
        // Fire and forget: the response says "accepted"; the pool, the batch processor and the bus finish the work,
        // and the host's shutdown drains it.
        result = pool.TryPost(document.Id, async cancellationToken =>
        {
            await store.SubmitAsync(document, cancellationToken);
            var words = document.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            await bus.PublishAsync("documents.stored", new DocumentStored(document.Id, words), cancellationToken);
        });
    }
    catch (Exception exception) when (exception is InvalidOperationException or ObjectDisposedException)
    {
        return Results.Problem("The service is shutting down.", statusCode: StatusCodes.Status503ServiceUnavailable);
    }

    return result is PostResult.Accepted or PostResult.AcceptedAfterDrop
        ? Results.Accepted($"/documents/{document.Id}")
        : Results.Problem($"The ingest queue is full ({result}).", statusCode: StatusCodes.Status503ServiceUnavailable);
});

app.MapGet("/documents/{id}", async (string id, DocumentStore documents, CancellationToken cancellationToken) =>
    await documents.ReadAsync(id, cancellationToken) is { } text ? Results.Ok(new Document(id, text)) : Results.NotFound());

app.MapGet("/stats", (IngestStatistics statistics) => Results.Ok(new { statistics.Stored, statistics.Words }));

app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteHealthAsync });

app.Run();

static Task WriteHealthAsync(HttpContext context, HealthReport report)
{
    context.Response.ContentType = "application/json";
    return context.Response.WriteAsync(JsonSerializer.Serialize(new
    {
        status = report.Status.ToString(),
        entries = report.Entries.ToDictionary(
            entry => entry.Key,
            entry => new { status = entry.Value.Status.ToString(), description = entry.Value.Description, data = entry.Value.Data }),
    }));
}

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
