using ParallelExec.Tests.Infrastructure;
using static ParallelExec.Sqlite.Tests.Utf8Values;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// The store's connections under many callers: reads on reader connections beside the writer, every operation ending
/// once in the ledger, a caller's own write visible to its next read, cancellation while waiting for a connection.
/// </summary>
public sealed class SqliteConnectionLaneTests : IDisposable
{
    private readonly SqliteTestDatabase _database = new();

    public void Dispose() => _database.Dispose();

    [Fact]
    public async Task Sixty_four_callers_read_their_own_writes_and_every_operation_ends_once()
    {
        await using var store = new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = _database.NewPath(), ReadConnections = 3 });
        const int Callers = 64;
        const int Rounds = 20;
        var callers = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            for (var round = 0; round < Rounds; round++)
            {
                var key = $"caller-{c}";
                await store.SetAsync("ns", key, Bytes($"{c}:{round}"));
                // The write has committed on the writer connection; a read on any reader connection must see it.
                Assert.Equal($"{c}:{round}", Text(await store.GetAsync("ns", key)));
            }
        })).ToArray();

        await Task.WhenAll(callers).WithTimeout();

        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(2 * Callers * Rounds, ledger.Submitted);
        Assert.Equal(ledger.Submitted, ledger.Succeeded);
        Assert.Equal(0, ledger.InFlight + ledger.Queued + ledger.Failed + ledger.Cancelled);
        Assert.Equal(Callers, (await store.ListKeysAsync("ns")).Count);
    }

    [Fact]
    public async Task A_lane_hands_off_between_posters_without_losing_an_operation()
    {
        // The lane's hand-off (the draining thread releases the lane while a poster enqueues) under contention: every
        // operation must run exactly once and every caller resume. The bodies do no SQLite work (the lane opens its
        // in-memory connection once and no body uses it), so the hand-off is what runs hot. This catches a release that
        // forgets the re-check; it cannot force the store-load reordering the release's full fence guards against
        // (a window of a few cycles: 400,000 hand-offs passed with the plain store too).
        var lane = new SqliteLane(() => SqliteStatements.Open(new SqliteMemoryStoreOptions { DataSource = ":memory:" }));
        const int Posters = 8;
        const int PerPoster = 25_000;
        var ran = new int[Posters * PerPoster];
        var posters = Enumerable.Range(0, Posters).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < PerPoster; i++)
            {
                var id = (p * PerPoster) + i;
                // A body long enough that other posters find the lane busy and leave their operation to its drainer.
                var result = await lane.RunAsync(
                    _ =>
                    {
                        Thread.SpinWait(50);
                        return Interlocked.Increment(ref ran[id]);
                    },
                    LaneGroup.None,
                    CancellationToken.None);
                Assert.Equal(1, result);
            }
        })).ToArray();

        await Task.WhenAll(posters).WithTimeout(TimeSpan.FromMinutes(2));
        Assert.All(ran, count => Assert.Equal(1, count));
        Assert.True(lane.IsIdle);
        await lane.CloseAsync().WithTimeout();
    }

    [Fact]
    public async Task Reads_of_a_file_database_go_on_while_the_writer_connection_is_held()
    {
        await using var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "stable", Bytes("before"));
        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "held", release);

        // The writer connection is inside an open transaction; a read on a reader connection does not wait for it.
        Assert.Equal("before", Text(await store.GetAsync("ns", "stable").WithTimeout()));
        Assert.Null(await store.GetAsync("ns", "held").WithTimeout());
        Assert.False(bulk.IsCompleted);

        release.Release();
        await bulk.WithTimeout();
        Assert.Equal("1", Text(await store.GetAsync("ns", "held")));
    }

    [Fact]
    public async Task A_write_cancelled_while_it_waits_for_the_writer_ends_cancelled_and_is_not_applied()
    {
        await using var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "first", release);
        using var cts = new CancellationTokenSource();
        var waiting = store.SetAsync("ns", "cancelled", Bytes("x"), cancellationToken: cts.Token).AsTask();
        Assert.False(waiting.IsCompleted);
        cts.Cancel();

        // Ends while the writer is still held: the cancellation does not wait for its turn.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WithTimeout());
        Assert.False(bulk.IsCompleted);
        release.Release();
        await bulk.WithTimeout();

        Assert.Null(await store.GetAsync("ns", "cancelled"));
        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(1, ledger.Cancelled);
        Assert.Equal(0, ledger.InFlight + ledger.Queued);
    }

    [Fact]
    public async Task Dispose_runs_the_operations_already_waiting_then_refuses_the_rest()
    {
        var store = new SqliteMemoryStore(_database.NewPath());
        await store.SetAsync("ns", "warm", Bytes("schema exists"));
        using var release = new SemaphoreSlim(0);
        var bulk = await SqliteWriterHold.StartAsync(store, "first", release);
        var waiting = store.SetAsync("ns", "second", Bytes("2")).AsTask();
        var disposal = store.DisposeAsync().AsTask();
        Assert.False(disposal.IsCompleted);

        release.Release();
        await Task.WhenAll(bulk, waiting, disposal).WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("ns", "first"));
        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(3, ledger.Succeeded);
    }
}
