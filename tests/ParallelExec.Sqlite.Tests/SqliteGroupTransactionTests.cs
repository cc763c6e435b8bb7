using Microsoft.Data.Sqlite;
using ParallelExec.Tests.Infrastructure;
using static ParallelExec.Sqlite.Tests.Utf8Values;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// Operations waiting for the same connection run in one transaction: writes commit together and each still ends with
/// its own outcome, a failing write takes none of the others down, a cancelled one is left out, and reads and writes
/// waiting in one queue keep their order.
/// </summary>
public sealed class SqliteGroupTransactionTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Writes_waiting_for_the_writer_commit_in_one_transaction_and_a_cancelled_one_is_left_out()
    {
        await using var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "held", release);
        using var cts = new CancellationTokenSource();
        const int Writes = 32;
        var writes = Enumerable.Range(0, Writes)
            .Select(i => store.SetAsync("ns", $"key-{i}", Bytes($"v{i}"), cancellationToken: i == 7 ? cts.Token : default).AsTask())
            .ToArray();
        await TestTimeout.WaitUntilAsync(() => store.GetStatistics().Ledger.Queued == Writes);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writes[7].WithTimeout());
        var groupsBefore = store.GroupTransactions;

        release.Release();
        await bulk.WithTimeout();
        await Task.WhenAll(writes.Where((_, i) => i != 7)).WithTimeout();

        Assert.Equal(groupsBefore + 1, store.GroupTransactions);
        var stored = await store.GetManyAsync("ns", Enumerable.Range(0, Writes).Select(i => $"key-{i}"));
        for (var i = 0; i < Writes; i++)
        {
            Assert.Equal(i == 7 ? null : $"v{i}", Text(stored.TryGetValue($"key-{i}", out var value) ? (ReadOnlyMemory<byte>?)value : null));
        }

        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(1, ledger.Cancelled);
        Assert.Equal(0, ledger.Failed + ledger.InFlight + ledger.Queued);
        Assert.Equal(ledger.Submitted - 1, ledger.Succeeded);
    }

    [Theory]
    [InlineData("ROLLBACK")] // SQLite rolls the whole group's transaction back
    [InlineData("ABORT")] // SQLite undoes the failing statement only; the group is rolled back by the lane
    public async Task A_write_that_fails_inside_a_group_fails_alone_and_every_other_write_of_the_group_commits(string raise)
    {
        var path = _database.NewPath();
        await using var store = new SqliteMemoryStore(path);
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"CREATE TRIGGER poison BEFORE INSERT ON parallelexec_memory WHEN NEW.key = 'poison' BEGIN SELECT RAISE({raise}, 'poisoned'); END;";
            command.ExecuteNonQuery();
        }

        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "held", release);
        const int Writes = 16;
        string KeyOf(int i) => i == 8 ? "poison" : $"key-{i}";
        var writes = Enumerable.Range(0, Writes).Select(i => store.SetAsync("ns", KeyOf(i), Bytes($"v{i}")).AsTask()).ToArray();
        await TestTimeout.WaitUntilAsync(() => store.GetStatistics().Ledger.Queued == Writes);
        var groupsBefore = store.GroupTransactions;

        release.Release();
        await bulk.WithTimeout();
        var failure = await Assert.ThrowsAsync<SqliteException>(() => writes[8].WithTimeout());
        Assert.Contains("poisoned", failure.Message, StringComparison.Ordinal);
        await Task.WhenAll(writes.Where((_, i) => i != 8)).WithTimeout();

        Assert.Equal(groupsBefore + 1, store.GroupTransactions);
        var stored = await store.GetManyAsync("ns", Enumerable.Range(0, Writes).Select(KeyOf));
        for (var i = 0; i < Writes; i++)
        {
            Assert.Equal(i == 8 ? null : $"v{i}", Text(stored.TryGetValue(KeyOf(i), out var value) ? (ReadOnlyMemory<byte>?)value : null));
        }

        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(1, ledger.Failed);
        Assert.Equal(0, ledger.Cancelled + ledger.InFlight + ledger.Queued);
        Assert.Equal(ledger.Submitted - 1, ledger.Succeeded);
    }

    [Fact]
    public async Task Reads_and_writes_waiting_on_one_connection_run_in_their_order_each_read_seeing_the_writes_before_it()
    {
        // An in-memory database has one connection for reads and writes: one queue, where runs of reads and runs of
        // writes each become a group. Every read must return what a one-at-a-time run of the same calls would.
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = ":memory:" });
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "held", release);

        var model = new Dictionary<string, string>();
        var reads = new List<(Task<ReadOnlyMemory<byte>?> Read, string? Expected)>();
        var writes = new List<Task>();
        var random = new Random(42);
        const int Calls = 200;
        for (var call = 0; call < Calls; call++)
        {
            var key = $"key-{random.Next(6)}";
            // Runs of reads and of writes, so that both kinds of group form.
            if ((call / 5) % 2 == 0)
            {
                var value = $"v{call}";
                model[key] = value;
                writes.Add(store.SetAsync("ns", key, Bytes(value)).AsTask());
            }
            else
            {
                reads.Add((store.GetAsync("ns", key).AsTask(), model.GetValueOrDefault(key)));
            }
        }

        var groupsBefore = store.GroupTransactions;
        release.Release();
        await bulk.WithTimeout();
        await Task.WhenAll(writes).WithTimeout();
        foreach (var (read, expected) in reads)
        {
            Assert.Equal(expected, Text(await read.WithTimeout()));
        }

        // 40 runs of five calls, each a group; the budget of a lane's turn may split one run in two.
        Assert.True(store.GroupTransactions - groupsBefore >= 38, $"{store.GroupTransactions - groupsBefore} group transactions");
        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(ledger.Submitted, ledger.Succeeded);
    }
}
