using Microsoft.Extensions.Time.Testing;
using ParallelExec.Memory;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Memory;

public sealed class InMemoryStoreTests : MemoryStoreContractTests
{
    protected override IMemoryStore CreateStore(TimeProvider timeProvider, string name) =>
        new InMemoryStore(new InMemoryStoreOptions { TimeProvider = timeProvider, Name = name });

    [Fact]
    public async Task RemoveExpired_sweeps_only_expired_entries()
    {
        var store = new InMemoryStore(new InMemoryStoreOptions { TimeProvider = Time });
        await store.SetAsync("ns", "a", Bytes("a"), TimeSpan.FromMinutes(1));
        await store.SetAsync("ns", "b", Bytes("b"));
        Time.Advance(TimeSpan.FromMinutes(2));

        Assert.Equal(2, store.Count);
        Assert.Equal(1, store.RemoveExpired());
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task Statistics_count_hits_misses_expired_entries_and_bulk_calls()
    {
        var store = Exec.MemoryStore().WithTimeProvider(Time).WithName("stats").Build();
        await store.SetAsync("ns", "short", Bytes("s"), TimeSpan.FromSeconds(1));
        await store.SetManyAsync("ns", [new("a", Bytes("a")), new("b", Bytes("b"))]);
        Time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await store.GetAsync("ns", "short"));
        Assert.Equal(2, (await store.GetManyAsync("ns", ["a", "b", "a"])).Count);

        var statistics = store.GetStatistics();
        Assert.Equal("stats", statistics.Name);
        Assert.Equal(3, statistics.Hits);
        Assert.Equal(1, statistics.Misses);
        Assert.Equal(1, statistics.Expired);
        Assert.Equal(2, statistics.Entries);
        Assert.Equal(2, statistics.BulkCalls);
        Assert.Equal(new LedgerSnapshot { Submitted = 7, Succeeded = 7 }, statistics.Ledger);
    }

    [Fact]
    public async Task Telemetry_counts_expired_entries_and_reports_empty_gauges_while_live()
    {
        using var meters = new TelemetryRecorder(StoreName, "parallelexec.memory.", recordSpans: false);
        var store = Exec.MemoryStore().WithTimeProvider(Time).WithName(StoreName).Build();
        await store.SetManyAsync("ns", [new("a", Bytes("a")), new("b", Bytes("b"))], TimeSpan.FromSeconds(1));
        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(2, store.RemoveExpired());

        meters.RecordObservables();
        Assert.Equal(2, meters.Sum("parallelexec.memory.expired"));
        Assert.Equal(0, meters.Last("parallelexec.memory.queue.length"));
        Assert.Equal(0, meters.Last("parallelexec.memory.in_flight"));

        await store.DisposeAsync();
        var before = meters.Count("parallelexec.memory.in_flight");
        meters.RecordObservables();
        Assert.Equal(before, meters.Count("parallelexec.memory.in_flight"));
    }

    [Fact]
    public async Task Disposal_drops_the_entries_and_later_calls_throw()
    {
        var store = new InMemoryStore();
        await store.SetAsync("ns", "k", Bytes("v"));
        await store.DisposeAsync();

        Assert.Equal(0, store.Count);
        Assert.Throws<ObjectDisposedException>(() => store.RemoveExpired());
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.ListKeysAsync("ns"));
        Assert.Equal("InMemoryStore", store.Name);
    }

    [Fact]
    public void A_null_time_provider_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new InMemoryStore(new InMemoryStoreOptions { TimeProvider = null! }));
        Assert.Equal("Invalid InMemoryStoreOptions: TimeProvider = null: must not be null. (Parameter 'TimeProvider')", ex.Message);
    }
}
