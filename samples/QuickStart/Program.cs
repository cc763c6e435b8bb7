// QuickStart: the quick starts of README.md, verbatim, with small stand-ins for the application's own code.
// tests/ParallelExec.Tests/Docs/ReadmeTests.cs fails when a ```csharp block of the README is not found here, so the
// README shows only code that compiles.
//   dotnet run --project samples/QuickStart
using ParallelExec;
using ParallelExec.Scheduling;

var db = new UserDatabase();
var logger = new ConsoleLogger();
int userId = 42;
AccountEvent[] events =
[
    new("alice", 1), new("bob", 1), new("alice", 2), new("carol", 1), new("bob", 2), new("alice", 3),
];
var ordersCsv = Path.Combine(Path.GetTempPath(), $"orders-{Environment.ProcessId}.csv");
File.WriteAllLines(ordersCsv, Enumerable.Range(1, 250).Select(i => $"{i},{(i % 7) - 1}"));

// README quick start 1: many single lookups, one bulk call, a result per caller.
{
    await using var users = Exec.Batch<int, User>(async (ids, ct) => await db.GetUsersAsync(ids, ct))
        .WithMaxBatchSize(100)
        .WithMaxDelay(TimeSpan.FromMilliseconds(5))
        .Build();
    User user = await users.SubmitAsync(userId);
    Console.WriteLine($"batch: {user.Name}, {db.BulkCalls} bulk call(s)");
}

// README quick start 2: a dependency graph, run as wide as it allows.
{
    var result = await Exec.Graph()
        .AddTask("fetch", async (_, ct) => await FetchAsync(ct))
        .AddTask("parse", async (g, ct) => await ParseAsync(g.GetResult<string>("fetch"), ct), "fetch")
        .AddTask("index", async (g, ct) => await IndexAsync(g.GetResult<Doc>("parse"), ct), "parse")
        .AddTask("thumbs", async (g, ct) => await ThumbnailsAsync(g.GetResult<string>("fetch"), ct), "fetch")
        .WithFailurePolicy(FailurePolicy.SkipDependents)
        .Build()
        .RunAsync();
    result.ThrowIfFailed();
    Console.WriteLine($"graph: {string.Join(", ", result.Tasks.Select(t => $"{t.Id} {t.Status}"))}");
}

// README quick start 3: a bounded pool that keeps per-key order and reports what it dropped.
{
    await using var pool = Exec.WorkerPool()
        .WithMaxDegreeOfParallelism(8)
        .WithQueue(1_000, QueueFullMode.DropOldest)
        .OnDropped(drop => logger.LogWarning("{Pool} dropped an event of {Account}: {Reason}", drop.Component, drop.Key, drop.Reason))
        .Build();
    foreach (var e in events)
        pool.TryPost(e.AccountId, async ct => await ApplyAsync(e, ct));
    await pool.DisposeAsync();
    Console.WriteLine($"pool: {pool.GetStatistics().Ledger}");
}

// README quick start 4: an ETL pipeline: read, parse, filter, enrich 16 at a time, write in batches; a ledger per stage.
{
    var result = await Exec.Pipeline<string>()
        .OnError(failed => logger.LogWarning("{Stage} failed: {Error}", failed.Key, failed.Exception.Message))
        .Select(line => Order.Parse(line))
        .Where(order => order.Total > 0)
        .Select(async (order, ct) => await EnrichAsync(order, ct), stage => stage.WithMaxDegreeOfParallelism(16))
        .Batch(100, TimeSpan.FromSeconds(1))
        .ForEach(async (batch, ct) => await db.InsertOrdersAsync(batch, ct))
        .RunAsync(File.ReadLinesAsync(ordersCsv));
    Console.WriteLine($"pipeline: {result}");
    File.Delete(ordersCsv);
}

// Stand-ins for the application's own functions.
static async Task<Order> EnrichAsync(Order order, CancellationToken cancellationToken)
{
    await Task.Delay(1, cancellationToken);
    return order with { Customer = $"customer-{order.Id % 10}" };
}

static async Task<string> FetchAsync(CancellationToken cancellationToken)
{
    await Task.Delay(10, cancellationToken);
    return "<html>quick start</html>";
}

static async Task<Doc> ParseAsync(string html, CancellationToken cancellationToken)
{
    await Task.Delay(10, cancellationToken);
    return new Doc(html.Length);
}

static Task IndexAsync(Doc doc, CancellationToken cancellationToken) => Task.Delay(doc.Length % 10, cancellationToken);

static Task ThumbnailsAsync(string html, CancellationToken cancellationToken) => Task.Delay(html.Length % 10, cancellationToken);

static Task ApplyAsync(AccountEvent e, CancellationToken cancellationToken) => Task.Delay(e.Sequence, cancellationToken);

/// <summary>A user, as the application's database returns it.</summary>
/// <param name="Id">The user's id.</param>
/// <param name="Name">The user's name.</param>
internal sealed record User(int Id, string Name);

/// <summary>An order, as parsed from a line of a CSV file.</summary>
/// <param name="Id">The order's id.</param>
/// <param name="Total">Its total.</param>
/// <param name="Customer">Its customer, once enriched.</param>
internal sealed record Order(int Id, decimal Total, string? Customer = null)
{
    /// <summary>Parses <c>id,total</c>.</summary>
    /// <param name="line">The line.</param>
    /// <returns>The order.</returns>
    public static Order Parse(string line)
    {
        var fields = line.Split(',');
        return new Order(int.Parse(fields[0], System.Globalization.CultureInfo.InvariantCulture), decimal.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>A parsed document.</summary>
/// <param name="Length">Its length.</param>
internal sealed record Doc(int Length);

/// <summary>An event of one account; events of one account must apply in order.</summary>
/// <param name="AccountId">The account.</param>
/// <param name="Sequence">Its position among the account's events.</param>
internal sealed record AccountEvent(string AccountId, int Sequence);

/// <summary>Stands in for the application's database, with a bulk lookup.</summary>
internal sealed class UserDatabase
{
    private int _bulkCalls;

    /// <summary>Gets how many bulk calls were made.</summary>
    public int BulkCalls => _bulkCalls;

    /// <summary>Looks up many users in one call, in the order of <paramref name="ids"/>.</summary>
    /// <param name="ids">The ids.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>One user per id.</returns>
    public async Task<IReadOnlyList<User>> GetUsersAsync(IReadOnlyList<int> ids, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _bulkCalls);
        await Task.Delay(5, cancellationToken);
        return ids.Select(id => new User(id, $"user-{id}")).ToArray();
    }

    /// <summary>Inserts a batch of orders in one call.</summary>
    /// <param name="orders">The orders.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>A task that ends when the batch is stored.</returns>
    public async Task InsertOrdersAsync(IReadOnlyList<Order> orders, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _bulkCalls);
        await Task.Delay(orders.Count % 5, cancellationToken);
    }
}

/// <summary>Stands in for the application's logger (Microsoft.Extensions.Logging's <c>LogWarning</c> shape).</summary>
internal sealed class ConsoleLogger
{
    /// <summary>Writes a warning with its arguments.</summary>
    /// <param name="message">The message template.</param>
    /// <param name="args">The values of its placeholders.</param>
    public void LogWarning(string message, params object?[] args) =>
        Console.WriteLine($"warn: {message} [{string.Join(", ", args)}]");
}
