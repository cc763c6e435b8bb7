using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using ParallelExec.Coordination;
using ParallelExec.Sqlite;
using ParallelExec.Tests.Infrastructure;
using WebIngest;

namespace ParallelExec.Hosting.Tests.Sample;

public sealed class WebIngestTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"webingest-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task Documents_accepted_before_shutdown_are_all_stored_and_announced_exactly_once()
    {
        IngestStatistics statistics;
        var factory = CreateFactory();
        await using (factory)
        {
            using var client = factory.CreateClient();
            statistics = factory.Services.GetRequiredService<IngestStatistics>();

            using (var health = await client.GetAsync(new Uri("/health", UriKind.Relative)).WithTimeout())
            {
                Assert.Equal(HttpStatusCode.OK, health.StatusCode);
                using var report = JsonDocument.Parse(await health.Content.ReadAsStringAsync());
                Assert.Equal("Healthy", report.RootElement.GetProperty("status").GetString());
                var entries = report.RootElement.GetProperty("entries");
                Assert.Equal("Healthy", entries.GetProperty("parallelexec:WorkerPool:ingest").GetProperty("status").GetString());
                Assert.True(entries.TryGetProperty("parallelexec:BatchProcessor:store", out _));
            }

            var posts = Enumerable.Range(0, 120).Select(async i =>
            {
                using var response = await client.PostAsJsonAsync(new Uri("/documents", UriKind.Relative), new Document($"doc-{i}", $"text of document {i}"));
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            });
            await Task.WhenAll(posts).WithTimeout();

            // Stopping the host right after the last 202: the pool, the batch processor and the bus drain into SQLite.
        }

        Assert.Equal(120, statistics.Stored);
        Assert.Equal(120 * 4, statistics.Words);
        await using var store = new SqliteMemoryStore(_database);
        var keys = await store.ListKeysAsync(DocumentStore.Namespace).AsTask().WithTimeout();
        Assert.Equal(Enumerable.Range(0, 120).Select(i => $"doc-{i}").Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_stored_document_reads_back_and_a_document_without_id_is_refused()
    {
        await using var factory = CreateFactory();
        using var client = factory.CreateClient();
        using (var refused = await client.PostAsJsonAsync(new Uri("/documents", UriKind.Relative), new Document(" ", "x")).WithTimeout())
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        var bus = factory.Services.GetRequiredKeyedService<CoordinationBus>("events");
        var stored = bus.WaitForAsync<DocumentStored>("documents.stored", d => d.Id == "a", TestTimeout.Unexpected);
        using (var accepted = await client.PostAsJsonAsync(new Uri("/documents", UriKind.Relative), new Document("a", "hello world")).WithTimeout())
        {
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
            Assert.Equal("/documents/a", accepted.Headers.Location?.OriginalString);
        }

        // Stored asynchronously: the bus announces it once it is in the store.
        Assert.Equal(2, (await stored.WithTimeout()).Message.Words);

        var document = await client.GetFromJsonAsync<Document>(new Uri("/documents/a", UriKind.Relative)).WithTimeout();
        Assert.Equal(new Document("a", "hello world"), document);
    }

    public void Dispose()
    {
        foreach (var file in Directory.GetFiles(Path.GetTempPath(), Path.GetFileName(_database) + "*"))
        {
            File.Delete(file);
        }
    }

    private WebApplicationFactory<Program> CreateFactory() => new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
    {
        web.UseSetting("ParallelExec:SqliteMemoryStore:documents:DataSource", _database);
        web.UseSetting("WebIngest:ConsoleExporter", "false");
    });
}
