using Microsoft.Data.Sqlite;
using ParallelExec.Tests.Infrastructure;
using static ParallelExec.Sqlite.Tests.Utf8Values;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// The busy-retry path under a real outside holder: another process (tests/SqliteLockHolder) holds the write lock on the
/// database file for longer than one attempt's busy timeout, so the store's own retry has to run.
/// </summary>
public sealed class SqliteBusyRetryTests : IDisposable
{
    private const string Table = "parallelexec_memory";
    private readonly SqliteTestDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Writes_retry_while_another_process_holds_the_lock_and_all_complete_after_it_lets_go()
    {
        var path = _database.NewPath();
        await using var store = await OpenWarmAsync(path, maxBusyRetries: 1000);

        using var holder = await SqliteLockHolderProcess.LockAsync(path, Table, "from-holder");
        var writes = Enumerable.Range(0, 40).Select(i => Task.Run(async () => await store.SetAsync("ns", $"k{i:D2}", Bytes($"v{i}")))).ToArray();

        // Bounded wait until the store's own retry has run (each attempt waits out a full busy timeout first).
        await TestTimeout.WaitUntilAsync(() => store.GetStatistics().BusyRetries >= 1);
        Assert.DoesNotContain(writes, w => w.IsCompleted);
        // WAL: reads go on beside the outside writer.
        Assert.Equal("schema exists", Text(await store.GetAsync("ns", "warm").WithTimeout()));

        await holder.ReleaseAsync();
        await Task.WhenAll(writes).WithTimeout();

        var statistics = store.GetStatistics();
        Assert.True(statistics.BusyRetries >= 1, statistics.ToString());
        Assert.Equal(0, statistics.Ledger.Failed);
        Assert.Equal(42, statistics.Ledger.Succeeded);
        var found = await store.GetManyAsync("ns", Enumerable.Range(0, 40).Select(i => $"k{i:D2}").Append("from-holder"));
        Assert.Equal(41, found.Count);
        Assert.All(Enumerable.Range(0, 40), i => Assert.Equal($"v{i}", Text(found[$"k{i:D2}"])));
    }

    [Fact]
    public async Task A_write_fails_with_the_busy_error_once_the_configured_retries_are_spent_and_writes_nothing()
    {
        var path = _database.NewPath();
        await using var store = await OpenWarmAsync(path, maxBusyRetries: 2);

        using (var holder = await SqliteLockHolderProcess.LockAsync(path, Table, "from-holder"))
        {
            var ex = await Assert.ThrowsAsync<SqliteException>(() => store.SetAsync("ns", "refused", Bytes("x")).AsTask().WithTimeout());
            Assert.True(SqliteMemoryStore.IsBusyOrLocked(ex), ex.Message);
            await holder.ReleaseAsync();
        }

        var statistics = store.GetStatistics();
        Assert.Equal(2, statistics.BusyRetries);
        Assert.Equal(1, statistics.Ledger.Failed);
        Assert.Null(await store.GetAsync("ns", "refused"));
        Assert.NotNull(await store.GetAsync("ns", "from-holder"));
    }

    /// <summary>A store whose attempts each wait out one second of busy timeout, with its schema created.</summary>
    private static async Task<SqliteMemoryStore> OpenWarmAsync(string path, int maxBusyRetries)
    {
        var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions
        {
            DataSource = path,
            BusyTimeout = TimeSpan.FromSeconds(1),
            MaxBusyRetries = maxBusyRetries,
            BusyRetryDelay = TimeSpan.FromMilliseconds(10),
        });
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        return store;
    }
}
