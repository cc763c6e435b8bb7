using Microsoft.Data.Sqlite;
using ParallelExec.Tests.Infrastructure;
using static ParallelExec.Sqlite.Tests.Utf8Values;

namespace ParallelExec.Sqlite.Tests;

public sealed class SqliteMemoryStoreTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Schema_is_created_on_first_use_in_WAL_mode_and_data_survives_reopening()
    {
        var path = _database.NewPath();
        await using (var store = new SqliteMemoryStore(path))
        {
            Assert.False(File.Exists(path));
            await store.SetManyAsync("ns", [new("a", Bytes("1")), new("b", Bytes("2"))]);
        }

        await using (var reopened = new SqliteMemoryStore(path))
        {
            Assert.Equal("1", Text(await reopened.GetAsync("ns", "a")));
            Assert.Equal(["a", "b"], await reopened.ListKeysAsync("ns"));
        }

        await using var check = OpenOther(path);
        using var command = check.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)command.ExecuteScalar());
    }

    [Fact]
    public async Task A_write_waits_out_another_connections_write_lock_through_the_bounded_retry()
    {
        var path = _database.NewPath();
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = path, MaxBusyRetries = 20, BusyRetryDelay = TimeSpan.FromMilliseconds(5) });
        await store.SetAsync("ns", "warm", Bytes("schema exists"));

        await using var other = OpenOther(path);
        var lockHolder = other.BeginTransaction(deferred: false); // BEGIN IMMEDIATE: holds the write lock
        var write = Task.Run(async () => await store.SetAsync("ns", "k", Bytes("written after the lock")));

        // Wait (bounded) until the store has met SQLITE_BUSY and retried at least once, then let go of the lock.
        await TestTimeout.WaitUntilAsync(() => store.BusyRetries >= 1);
        Assert.False(write.IsCompleted);
        lockHolder.Commit();

        await write.WithTimeout();
        Assert.Equal("written after the lock", Text(await store.GetAsync("ns", "k")));
    }

    [Fact]
    public async Task A_write_that_stays_busy_fails_after_the_bounded_retries_and_writes_nothing()
    {
        var path = _database.NewPath();
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = path, MaxBusyRetries = 1, BusyRetryDelay = TimeSpan.FromMilliseconds(5) });
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        await using var other = OpenOther(path);
        using (var lockHolder = other.BeginTransaction(deferred: false))
        {
            var ex = await Assert.ThrowsAsync<SqliteException>(() => store.SetManyAsync("ns", [new("x", Bytes("1")), new("y", Bytes("2"))]).AsTask().WithTimeout());
            Assert.True(SqliteMemoryStore.IsBusyOrLocked(ex), ex.Message);
            Assert.Equal(1, store.BusyRetries);
            lockHolder.Rollback();
        }

        Assert.Equal(["warm"], await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task Cancellation_inside_a_bulk_write_rolls_back_every_row()
    {
        await using var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "before", Bytes("kept"));
        using var cts = new CancellationTokenSource();
        var rowsWritten = 0;
        store.AfterBulkRowWritten = index =>
        {
            rowsWritten = index + 1;
            if (index == 499)
            {
                cts.Cancel();
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await store.SetManyAsync("ns", Enumerable.Range(0, 1000).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>($"k{i:D4}", Bytes("v"))), cancellationToken: cts.Token));

        // Cancellation is checked before each statement: row 499 is in the chunk of rows 480-511, the next is refused.
        Assert.Equal(512, rowsWritten);
        Assert.Equal(["before"], await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task Bulk_calls_longer_than_a_chunk_keep_the_last_value_of_a_repeated_key_and_count_every_key_read()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(50));
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = _database.NewPath(), TimeProvider = time });
        // 70 entries: two chunks of 32, one of 4, then two rows key by key. "dup" is written in the first chunk, again in the
        // second and last in the chunk of 4; "twice" twice inside the first chunk.
        var entries = Enumerable.Range(0, 70).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>($"k{i:D2}", Bytes($"v{i}"))).ToList();
        entries[3] = new("dup", Bytes("first"));
        entries[40] = new("dup", Bytes("second"));
        entries[67] = new("dup", Bytes("last"));
        entries[5] = new("twice", Bytes("one"));
        entries[6] = new("twice", Bytes("two"));
        await store.SetManyAsync("ns", entries);
        await store.SetAsync("ns", "expiring", Bytes("gone soon"), TimeSpan.FromSeconds(1));
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal("last", Text(await store.GetAsync("ns", "dup")));
        Assert.Equal("two", Text(await store.GetAsync("ns", "twice")));

        // 80 keys read: the 67 distinct stored keys, "dup" asked for three times, ten missing and the expired one.
        var keys = entries.Select(e => e.Key).Distinct().Concat(["dup", "dup"]).Concat(Enumerable.Range(0, 10).Select(i => $"missing-{i}")).Append("expiring").ToList();
        var before = store.GetStatistics();
        var found = await store.GetManyAsync("ns", keys);
        var after = store.GetStatistics();

        var expected = entries.GroupBy(e => e.Key).ToDictionary(g => g.Key, g => Text(g.Last().Value));
        Assert.Equal(expected.OrderBy(p => p.Key, StringComparer.Ordinal), found.Select(p => KeyValuePair.Create(p.Key, Text(p.Value))).OrderBy(p => p.Key, StringComparer.Ordinal));
        Assert.Equal(80, keys.Count);
        Assert.Equal(69, after.Hits - before.Hits);
        Assert.Equal(11, after.Misses - before.Misses);
    }

    [Fact]
    public async Task A_failure_inside_a_bulk_write_rolls_back_every_row_and_the_store_keeps_working()
    {
        await using var store = new SqliteMemoryStore(_database.NewPath());
        store.AfterBulkRowWritten = index =>
        {
            if (index == 300)
            {
                throw new InvalidOperationException("injected failure");
            }
        };

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await store.SetManyAsync("ns", Enumerable.Range(0, 1000).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>($"k{i}", Bytes("v")))));
        Assert.Empty(await store.ListKeysAsync("ns"));

        store.AfterBulkRowWritten = null;
        await store.SetManyAsync("ns", [new("after", Bytes("ok"))]);
        Assert.Equal(["after"], await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task RemoveExpired_deletes_expired_rows()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(50));
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = _database.NewPath(), TimeProvider = time });
        await store.SetAsync("ns", "short", Bytes("s"), TimeSpan.FromSeconds(1));
        await store.SetAsync("ns", "long", Bytes("l"), TimeSpan.FromHours(1));
        time.Advance(TimeSpan.FromSeconds(2));

        Assert.Equal(1, await store.RemoveExpiredAsync());
        Assert.Equal(0, await store.RemoveExpiredAsync());
        Assert.Equal(["long"], await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task Dispose_is_idempotent_and_later_calls_throw_ObjectDisposedException()
    {
        var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "k", Bytes("v"));
        await store.DisposeAsync();
        await store.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("ns", "k"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.SetManyAsync("ns", [new("a", Bytes("b"))]));
    }

    [Fact]
    public async Task The_builder_configures_the_store_and_statistics_count_its_keys()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(50));
        var builder = SqliteMemoryStore.CreateBuilder(_database.NewPath()).WithBusyRetry(3, TimeSpan.FromMilliseconds(5)).WithBusyTimeout(TimeSpan.FromSeconds(2)).WithTimeProvider(time).WithName("agents");
        await using var store = builder.Build();
        Assert.Throws<InvalidOperationException>(() => builder.Build());

        await store.SetAsync("ns", "short", Bytes("s"), TimeSpan.FromSeconds(1));
        await store.SetManyAsync("ns", [new("a", Bytes("a")), new("b", Bytes("b"))]);
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Null(await store.GetAsync("ns", "short"));
        Assert.Single(await store.GetManyAsync("ns", ["a", "missing"]));
        Assert.Equal(1, await store.RemoveExpiredAsync());

        var statistics = store.GetStatistics();
        Assert.Equal("agents", statistics.Name);
        Assert.Equal((1, 2, 1, 2), (statistics.Hits, statistics.Misses, statistics.Expired, statistics.BulkCalls));
        Assert.Null(statistics.Entries);
        Assert.Equal(new LedgerSnapshot { Submitted = 6, Succeeded = 6 }, statistics.Ledger);
        Assert.Throws<ArgumentException>(() => SqliteMemoryStore.CreateBuilder("x").WithBusyRetry(-1, TimeSpan.Zero).Build());
    }

    [Fact]
    public async Task A_call_waiting_for_the_connection_counts_as_queued_and_its_cancellation_ends_it_cancelled()
    {
        // In memory: one connection reads and writes, so the read waits too (a file's reads go to reader connections).
        await using var store = new SqliteMemoryStore(":memory:");
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        store.AfterBulkRowWritten = row =>
        {
            if (row == 0)
            {
                inside.Set();
                release.Wait(TestTimeout.Unexpected);
            }
        };

        // Two keys hold the connection inside a bulk write; one read and one cancellable write wait for it.
        var bulk = Task.Run(async () => await store.SetManyAsync("ns", [new("a", Bytes("1")), new("b", Bytes("2"))]));
        Assert.True(inside.Wait(TestTimeout.Unexpected));
        var read = store.GetAsync("ns", "a").AsTask();
        using var cts = new CancellationTokenSource();
        var cancelled = store.SetAsync("ns", "c", Bytes("3"), cancellationToken: cts.Token).AsTask();
        Assert.Equal(new LedgerSnapshot { Submitted = 5, Succeeded = 1, InFlight = 2, Queued = 2 }, store.GetStatistics().Ledger);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WithTimeout());
        release.Set();
        await bulk.WithTimeout();
        Assert.Equal("1", Text(await read.WithTimeout()));
        Assert.Equal(new LedgerSnapshot { Submitted = 5, Succeeded = 4, Cancelled = 1 }, store.GetStatistics().Ledger);
        Assert.Equal(["a", "b", "warm"], await store.ListKeysAsync("ns"));
    }

    [Fact]
    public void Invalid_options_are_all_listed_in_one_exception()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SqliteMemoryStore(new SqliteMemoryStoreOptions
        {
            DataSource = "",
            TimeProvider = null!,
            BusyTimeout = TimeSpan.Zero,
            MaxBusyRetries = -1,
            BusyRetryDelay = TimeSpan.FromSeconds(-1),
        }));

        Assert.Equal(
            "Invalid SqliteMemoryStoreOptions: TimeProvider = null: must not be null; DataSource = \"\": must be a file path or :memory:; BusyTimeout = 00:00:00: must be greater than zero and at most one hour; MaxBusyRetries = -1: must be between 0 and 10000; BusyRetryDelay = -00:00:01: must be greater than zero. (Parameter 'TimeProvider')",
            ex.Message);
        Assert.Throws<ArgumentNullException>(() => new SqliteMemoryStore((string)null!));
    }

    [Theory]
    [InlineData(nameof(SqliteMemoryStoreOptions.ReadConnections), "ReadConnections = 1000000: must be between 1 and 64")]
    [InlineData(nameof(SqliteMemoryStoreOptions.MaxBusyRetries), "MaxBusyRetries = 2147483647: must be between 0 and 10000")]
    [InlineData(nameof(SqliteMemoryStoreOptions.BusyTimeout), "BusyTimeout = 10675199.02:48:05.4775807: must be greater than zero and at most one hour")]
    public void Huge_values_are_refused_with_the_option_and_its_value(string option, string expected)
    {
        var options = new SqliteMemoryStoreOptions { DataSource = ":memory:" };
        switch (option)
        {
            case nameof(SqliteMemoryStoreOptions.ReadConnections):
                options.ReadConnections = 1_000_000;
                break;
            case nameof(SqliteMemoryStoreOptions.MaxBusyRetries):
                options.MaxBusyRetries = int.MaxValue;
                break;
            default:
                options.BusyTimeout = TimeSpan.MaxValue;
                break;
        }

        var ex = Assert.Throws<ArgumentException>(() => new SqliteMemoryStore(options));
        Assert.Contains(expected, ex.Message);
        Assert.Equal(option, ex.ParamName);
    }

    private static SqliteConnection OpenOther(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, DefaultTimeout = 1 }.ToString());
        connection.Open();
        return connection;
    }
}
