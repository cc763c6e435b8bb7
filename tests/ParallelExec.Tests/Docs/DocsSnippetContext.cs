namespace ParallelExec.Tests.Docs;

/// <summary>
/// What a docs page's code blocks assume without showing: the application's own types and objects (a database, a
/// logger, a <c>cancellationToken</c> in scope). Each page gets top-level statements run before its blocks and type
/// declarations beside them; the stubs are typed, so a block that misuses ParallelExec's API still fails to compile.
/// </summary>
internal sealed record DocsSnippetContext(string Usings, string Statements, string Declarations)
{
    private const string Token = "CancellationToken cancellationToken = CancellationToken.None;";

    /// <summary>The context of a page, by file name (docs/analyzers pages by their diagnostic id).</summary>
    public static DocsSnippetContext For(string page) => page switch
    {
        "batching.md" => new("", Token + " IUserDatabase db = null!;", """
            public sealed record User(int Id, string Name);
            public interface IUserDatabase { Task<IReadOnlyList<User>> GetUsersAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken); }
            """),
        "coordination.md" => new("", "static Task RunStepAsync(string agent, string step, CancellationToken ct) => Task.CompletedTask;", ""),
        "files.md" => new("", """
            static void Index(string path, ReadOnlyMemory<byte> data) { }
            var outputs = new[] { (Path: "out/a.txt", Bytes: new byte[] { 1, 2, 3 }) };
            var pairs = new[] { (Source: "big.bin", Destination: "copy/big.bin") };
            """, ""),
        "hosting.md" => new("""
            using Microsoft.AspNetCore.Builder; using Microsoft.AspNetCore.Http; using Microsoft.AspNetCore.Mvc;
            using Microsoft.Extensions.DependencyInjection; using Microsoft.Extensions.Hosting;
            using OpenTelemetry.Metrics; using OpenTelemetry.Trace;
            using ParallelExec; using ParallelExec.Batching; using ParallelExec.Hosting; using ParallelExec.Memory; using ParallelExec.Net; using ParallelExec.Workers;
            """, "", """
            // The sample's own types (samples/WebIngest), reduced to their signatures.
            public sealed record Document(string Id, string Text);
            public sealed class DocumentStore(IMemoryStore store)
            {
                public IMemoryStore Store => store;
                public ValueTask<IReadOnlyList<bool>> WriteAsync(IReadOnlyList<Document> documents, CancellationToken cancellationToken) => throw new NotSupportedException();
            }
            public sealed class ChatClient(HttpClient http) { public HttpClient Http => http; }
            """),
        "memory.md" => new("using System.Text.Json.Serialization.Metadata;", "var plan = new Plan(\"ship it\");", """
            public sealed record Plan(string Goal);
            // Stands in for a source-generated JsonSerializerContext (the generator does not run here).
            public sealed class MyJsonContext
            {
                public static MyJsonContext Default { get; } = new();
                public JsonTypeInfo<Plan> Plan => null!;
            }
            """),
        "net.md" => new("", Token + " var url = \"https://api.example.com/v1/chat\"; var request = new { prompt = \"hi\" }; var estimatedTokens = 1200;", ""),
        "observability.md" => new("", "var app = Microsoft.AspNetCore.Builder.WebApplication.Create();", ""),
        "pipelines.md" => new("using Microsoft.Extensions.Logging; using ParallelExec;", """
            ILogger logger = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            IOrderDatabase db = null!; var ordersCsv = "orders.csv";
            static ValueTask<Order> EnrichAsync(Order order, CancellationToken ct) => ValueTask.FromResult(order);
            """, """
            public sealed record Order(int Id, decimal Total) { public static Order Parse(string line) => new(int.Parse(line.Split(',')[0]), decimal.Parse(line.Split(',')[1])); }
            public interface IOrderDatabase { Task InsertOrdersAsync(IReadOnlyList<Order> orders, CancellationToken cancellationToken); }
            """),
        "redis.md" => new("using ParallelExec; using ParallelExec.Redis; using StackExchange.Redis;", """
            Quote quote = new(); Job job = new("job-1"); IConnectionMultiplexer connection = null!;
            static ValueTask<byte[]> RenderAsync(Job job, CancellationToken ct) => ValueTask.FromResult(Array.Empty<byte>());
            """, """
            public sealed record Order; public sealed record Invoice; public sealed record Quote; public sealed record Price;
            public sealed record Job(string Id);
            """),
        "scheduling.md" => new("using Polly;", Token + """
             ResiliencePipeline retryPipeline = ResiliencePipeline.Empty;
            static Task<Spec> LoadSpecAsync(CancellationToken ct) => Task.FromResult(new Spec());
            static Task<Patch> RunAgentAsync(string agent, Spec spec, CancellationToken ct) => Task.FromResult(new Patch());
            static Task<Patch> MergeAsync(Patch a, Patch b, CancellationToken ct) => Task.FromResult(new Patch());
            """, "public sealed record Spec; public sealed record Patch;"),
        "workers.md" => new("using Microsoft.Extensions.Logging; using Polly;", Token + """
             ILogger log = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
            ResiliencePipeline pipeline = ResiliencePipeline.Empty;
            IAgent agent = null!; var prompt = "summarise"; var file = "a.txt"; var files = new[] { "a.txt", "b.txt" };
            IAgentMemory memory = null!; var agentId = "agent-1"; var entry = "note";
            static Task UploadAsync(string file, CancellationToken ct) => Task.CompletedTask;
            static ValueTask<int> ReadAsync(string file, CancellationToken ct) => ValueTask.FromResult(file.Length);
            """, """
            public interface IAgent { Task<string> AskAsync(string prompt, CancellationToken cancellationToken); }
            public interface IAgentMemory { Task AppendAsync(string agentId, string entry, CancellationToken cancellationToken); }
            """),
        "PEX001.md" => new("", "IUsers _users = null!; IOrders _orders = null!; var id = 7;", """
            public interface IUsers { Task<string> GetAsync(int id); }
            public interface IOrders { Task<int[]> ForUserAsync(int id); }
            """),
        "PEX002.md" => new("using ParallelExec;", Token + " IClient _client = null!; var users = new[] { \"ada\", \"alan\" }; var urls = new[] { \"https://example.com\" };", """
            public interface IClient { Task SendAsync(string message, CancellationToken cancellationToken); Task<string> FetchAsync(string url); }
            """),
        "PEX003.md" => new("using ParallelExec.Memory;", Token + """
             IMemoryStore store = null!; var keys = new[] { "a", "b" }; var total = 0;
            var notes = new Dictionary<string, ReadOnlyMemory<byte>>();
            """, ""),
        _ => new("", "", ""),
    };
}
