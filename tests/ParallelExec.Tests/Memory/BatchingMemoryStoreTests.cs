using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Memory;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Memory;

/// <summary>The shared contract through the decorator (batching on the real clock, entries expiring by the fake one).</summary>
public sealed class BatchingMemoryStoreContractTests : MemoryStoreContractTests
{
    protected override IMemoryStore CreateStore(TimeProvider timeProvider, string name) =>
        new BatchingMemoryStore(new InMemoryStore(new InMemoryStoreOptions { TimeProvider = timeProvider }), new BatchingMemoryStoreOptions { MaxBatchSize = 8, Name = name });
}

public sealed class BatchingMemoryStoreTests
{
    // With EagerFlush off, batches flush only when full (or on Complete or dispose): the fake clock never reaches MaxDelay
    // unless a test advances it. The tests of the mechanics below turn it off; BatchingMemoryStoreFlushTests cover it on.
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task Concurrent_single_writes_become_bulk_writes_and_each_is_visible_once_its_await_returns()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 16, MaxDelay = TimeSpan.FromHours(1), TimeProvider = _time, EagerFlush = false });

        var writers = Enumerable.Range(0, 64).Select(i => Task.Run(async () =>
        {
            await store.SetAsync("ns", $"k{i}", Bytes($"v{i}"));
            // The ledger: once the await returns, the inner store has the value.
            return Text(await inner.Inner.GetAsync("ns", $"k{i}")) == $"v{i}" ? null : $"k{i}";
        }));
        var missing = await Task.WhenAll(writers).WithTimeout();

        Assert.All(missing, Assert.Null);
        Assert.Equal(4, inner.SetManyCalls.Count);
        Assert.All(inner.SetManyCalls, call => Assert.Equal(16, call.Length));
        Assert.Equal(Enumerable.Range(0, 64).Select(i => $"k{i}").Order(), inner.SetManyCalls.SelectMany(c => c).Order());
        Assert.Equal(0, inner.SingleCalls);
        Assert.Equal(64, store.GetStatistics().Writes);
        Assert.Equal(4, store.GetStatistics().WriteBatches);
    }

    [Fact]
    public async Task Concurrent_readers_of_one_key_share_one_read()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await inner.Inner.SetAsync("ns", "hot", Bytes("shared"));
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 2, MaxDelay = TimeSpan.FromHours(1), TimeProvider = _time, EagerFlush = false });

        var hotReads = Enumerable.Range(0, 10).Select(_ => store.GetAsync("ns", "hot").AsTask()).ToArray();
        Assert.All(hotReads, t => Assert.False(t.IsCompleted));
        var other = store.GetAsync("ns", "cold").AsTask();

        Assert.All(await Task.WhenAll(hotReads).WithTimeout(), v => Assert.Equal("shared", Text(v)));
        Assert.Null(await other.WithTimeout());
        var call = Assert.Single(inner.GetManyCalls);
        Assert.Equal(["cold", "hot"], call.Order());
        Assert.Equal(9, store.GetStatistics().ReadsShared);
    }

    [Fact]
    public async Task A_write_does_not_complete_before_the_inner_store_has_accepted_it()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        inner.Hold = release.Task;
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 1, TimeProvider = _time });

        var write = store.SetAsync("ns", "k", Bytes("v")).AsTask();
        await TestTimeout.WaitUntilAsync(() => !inner.SetManyCalls.IsEmpty);
        Assert.False(write.IsCompleted);
        Assert.Null(await inner.Inner.GetAsync("ns", "k"));

        release.SetResult();
        await write.WithTimeout();
        Assert.Equal("v", Text(await inner.Inner.GetAsync("ns", "k")));
    }

    [Fact]
    public async Task A_failing_group_fails_only_its_own_callers()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore()) { FailNamespace = "bad" };
        var name = "failing-" + Guid.NewGuid().ToString("N");
        using var meters = new TelemetryRecorder(name, "parallelexec.memory.", recordSpans: false);
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 4, MaxDelay = TimeSpan.FromHours(1), TimeProvider = _time, Name = name, EagerFlush = false });

        var good1 = store.SetAsync("good", "a", Bytes("1")).AsTask();
        var bad1 = store.SetAsync("bad", "a", Bytes("1")).AsTask();
        var good2 = store.SetAsync("good", "b", Bytes("2")).AsTask();
        var bad2 = store.SetAsync("bad", "b", Bytes("2")).AsTask();

        await Task.WhenAll(good1, good2).WithTimeout();
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad1.WithTimeout());
        await Assert.ThrowsAsync<InvalidOperationException>(() => bad2.WithTimeout());
        Assert.Equal(["a", "b"], await inner.Inner.ListKeysAsync("good"));
        Assert.Empty(await inner.Inner.ListKeysAsync("bad"));
        Assert.Equal(2, inner.SetManyCalls.Count);
        Assert.Equal(new LedgerSnapshot { Submitted = 4, Succeeded = 2, Failed = 2 }, store.GetStatistics().Ledger);
        Assert.Equal(2, meters.Sum("parallelexec.memory.items.failed", (TelemetryTagNames.Operation, "set")));
    }

    [Fact]
    public async Task Read_cache_serves_repeated_reads_until_its_ttl_and_writes_through_the_store_refresh_it()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await inner.Inner.SetAsync("ns", "k", Bytes("v1"));
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions
        {
            MaxBatchSize = 1,
            ReadCacheTimeToLive = TimeSpan.FromSeconds(10),
            TimeProvider = _time,
        });

        Assert.Equal("v1", Text(await store.GetAsync("ns", "k").AsTask().WithTimeout()));
        Assert.Equal("v1", Text(await store.GetAsync("ns", "k").AsTask().WithTimeout()));
        Assert.Single(inner.GetManyCalls);
        Assert.Equal(1, store.GetStatistics().CacheHits);

        // A change behind the decorator's back shows once the cached value expires.
        await inner.Inner.SetAsync("ns", "k", Bytes("v2"));
        _time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("v1", Text(await store.GetAsync("ns", "k").AsTask().WithTimeout()));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("v2", Text(await store.GetAsync("ns", "k").AsTask().WithTimeout()));

        // A write or delete through the decorator shows at once.
        await store.SetAsync("ns", "k", Bytes("v3")).AsTask().WithTimeout();
        Assert.Equal("v3", Text(await store.GetAsync("ns", "k").AsTask().WithTimeout()));
        Assert.True(await store.DeleteAsync("ns", "k"));
        Assert.Null(await store.GetAsync("ns", "k").AsTask().WithTimeout());
    }

    [Fact]
    public async Task Read_cache_never_grows_past_its_capacity_and_reuses_room_of_expired_entries()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await using var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions
        {
            MaxBatchSize = 1,
            ReadCacheTimeToLive = TimeSpan.FromSeconds(10),
            ReadCacheCapacity = 2,
            TimeProvider = _time,
        });

        foreach (var key in new[] { "a", "b", "c", "a", "b", "c" })
        {
            await store.GetAsync("ns", key).AsTask().WithTimeout();
        }

        // a and b cached after their first read; c found no room, so both its reads went to the inner store.
        Assert.Equal(["a", "b", "c", "c"], inner.GetManyCalls.Select(c => Assert.Single(c)));
        Assert.Equal(2, store.GetStatistics().CacheHits);

        _time.Advance(TimeSpan.FromSeconds(10));
        await store.GetAsync("ns", "c").AsTask().WithTimeout();
        await store.GetAsync("ns", "c").AsTask().WithTimeout();
        Assert.Equal(5, inner.GetManyCalls.Count);
        Assert.Equal(3, store.GetStatistics().CacheHits);
    }

    [Fact]
    public async Task A_write_cancelled_while_waiting_for_its_batch_is_not_applied()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 10, MaxDelay = TimeSpan.FromHours(1), TimeProvider = _time, EagerFlush = false });
        using var cts = new CancellationTokenSource();

        var cancelled = store.SetAsync("ns", "cancelled", Bytes("x"), cancellationToken: cts.Token).AsTask();
        var kept = store.SetAsync("ns", "kept", Bytes("y")).AsTask();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WithTimeout());
        await store.DisposeAsync();

        await kept.WithTimeout();
        Assert.Equal(["kept"], await inner.Inner.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task Dispose_flushes_pending_writes_and_later_calls_throw()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 100, MaxDelay = TimeSpan.FromHours(1), TimeProvider = _time, EagerFlush = false });
        var writes = Enumerable.Range(0, 5).Select(i => store.SetAsync("ns", $"k{i}", Bytes("v")).AsTask()).ToArray();
        Assert.All(writes, w => Assert.False(w.IsCompleted));

        await store.DisposeAsync().AsTask().WithTimeout();
        await store.DisposeAsync();

        await Task.WhenAll(writes).WithTimeout();
        Assert.Equal(5, (await inner.Inner.ListKeysAsync("ns")).Count);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("ns", "k0"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.SetAsync("ns", "k0", Bytes("v")));
    }

    [Fact]
    public async Task Time_flushes_a_batch_that_is_not_full()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await using var store = Exec.BatchingMemoryStore(inner).WithBatching(100, TimeSpan.FromMilliseconds(5)).WithTimeProvider(_time).Configure(o => o.EagerFlush = false).Build();

        var write = store.SetAsync("ns", "k", Bytes("v")).AsTask();
        _time.Advance(TimeSpan.FromMilliseconds(4));
        Assert.False(write.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        await write.WithTimeout();
        Assert.Single(inner.SetManyCalls);
    }

    [Fact]
    public void Invalid_options_are_all_listed_in_one_exception()
    {
        var ex = Assert.Throws<ArgumentException>(() => new BatchingMemoryStore(new InMemoryStore(), new BatchingMemoryStoreOptions
        {
            MaxBatchSize = 0,
            MaxDelay = TimeSpan.Zero,
            ReadCacheTimeToLive = TimeSpan.FromSeconds(-1),
        }));

        Assert.Equal(
            "Invalid BatchingMemoryStoreOptions: MaxBatchSize = 0: must be between 1 and 65536; MaxDelay = 00:00:00: must be greater than zero; ReadCacheTimeToLive = -00:00:01: must be greater than zero or null. (Parameter 'MaxBatchSize')",
            ex.Message);
        Assert.Throws<ArgumentNullException>(() => new BatchingMemoryStore(null!));
    }

    [Fact]
    public async Task Complete_stops_intake_and_Completion_ends_when_the_accepted_calls_have_ended()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore());
        await using var store = Exec.BatchingMemoryStore(inner).WithBatching(100, TimeSpan.FromMilliseconds(5)).WithTimeProvider(_time).Configure(o => o.EagerFlush = false).Build();

        var write = store.SetAsync("ns", "accepted", Bytes("v")).AsTask();
        store.Complete();
        store.Complete();

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.SetAsync("ns", "late", Bytes("v")));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.ListKeysAsync("ns"));

        // Complete() sent the open batch: no time passes on the fake clock, yet the write lands and Completion ends.
        await write.WithTimeout();
        await store.Completion.WithTimeout();
        Assert.Equal(["accepted"], await inner.Inner.ListKeysAsync("ns"));
        var ledger = store.GetStatistics().Ledger;
        Assert.Equal(new LedgerSnapshot { Submitted = 1, Succeeded = 1 }, ledger);
    }

    [Fact]
    public async Task Dispose_cuts_what_is_left_after_the_drain_timeout_and_reports_each_key()
    {
        var inner = new RecordingMemoryStore(new InMemoryStore()) { Hold = new TaskCompletionSource().Task };
        var name = "cut-" + Guid.NewGuid().ToString("N");
        var dropped = new ConcurrentQueue<DroppedItem>();
        using var meters = new TelemetryRecorder(name, "parallelexec.memory.", recordSpans: false);
        var store = Exec.BatchingMemoryStore(inner)
            .WithBatching(1, TimeSpan.FromHours(1))
            .WithMaxDegreeOfParallelism(1)
            .WithDrainTimeout(TimeSpan.FromSeconds(5))
            .WithTimeProvider(_time)
            .WithName(name)
            .OnDropped(dropped.Enqueue)
            .Build();

        // "running" is held inside the inner store's bulk call; "waiting" waits for the only bulk-call slot.
        var running = store.SetAsync("ns", "running", Bytes("1")).AsTask();
        await TestTimeout.WaitUntilAsync(() => inner.SetManyCalls.Count == 1);
        var waiting = store.SetAsync("ns", "waiting", Bytes("2")).AsTask();
        var kept = store.GetAsync("other", "read").AsTask();
        await TestTimeout.WaitUntilAsync(() => inner.GetManyCalls.Count == 1);

        var disposal = store.DisposeAsync().AsTask();
        Assert.False(disposal.IsCompleted);
        Assert.Equal(new LedgerSnapshot { Submitted = 3, Queued = 3 }, store.GetStatistics().Ledger);
        meters.RecordObservables();
        Assert.Equal(3, meters.Last("parallelexec.memory.queue.length"));
        _time.Advance(TimeSpan.FromSeconds(5));

        await disposal.WithTimeout();
        await store.Completion.WithTimeout();
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => running.WithTimeout())).Reason);
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => waiting.WithTimeout())).Reason);
        Assert.Equal(DropReason.DrainTimeout, (await Assert.ThrowsAsync<ItemDroppedException>(() => kept.WithTimeout())).Reason);
        Assert.Equal(["ns/running", "ns/waiting", "other/read"], dropped.Select(d => $"{d.Key}/{d.Item}").Order(StringComparer.Ordinal));
        Assert.All(dropped, d =>
        {
            Assert.Equal(name, d.Component);
            Assert.Equal(DropReason.DrainTimeout, d.Reason);
        });
        Assert.Empty(await inner.Inner.ListKeysAsync("ns"));
        Assert.Equal(new LedgerSnapshot { Submitted = 3, Dropped = 3 }, store.GetStatistics().Ledger);
        Assert.Equal(3, meters.Sum("parallelexec.memory.items.dropped", (TelemetryTagNames.DropReason, "drain_timeout")));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("ns", "running"));
    }

    [Fact]
    public async Task Dispose_without_a_drain_timeout_lets_a_held_call_finish()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inner = new RecordingMemoryStore(new InMemoryStore()) { Hold = release.Task };
        var store = new BatchingMemoryStore(inner, new BatchingMemoryStoreOptions { MaxBatchSize = 1, TimeProvider = _time });

        var write = store.SetAsync("ns", "k", Bytes("v")).AsTask();
        await TestTimeout.WaitUntilAsync(() => inner.SetManyCalls.Count == 1);
        var disposal = store.DisposeAsync().AsTask();
        _time.Advance(TimeSpan.FromDays(1));
        Assert.False(disposal.IsCompleted);

        release.SetResult();
        await disposal.WithTimeout();
        await write.WithTimeout();
        Assert.Equal(new LedgerSnapshot { Submitted = 1, Succeeded = 1 }, store.GetStatistics().Ledger);
    }

    [Fact]
    public void The_builder_is_single_use_and_names_the_store()
    {
        var builder = Exec.BatchingMemoryStore(new InMemoryStore()).WithName("memory").WithReadCache(TimeSpan.FromSeconds(1), capacity: 10);
        var store = builder.Build();

        Assert.Equal("memory", store.Name);
        Assert.Equal("memory", store.GetStatistics().Name);
        Assert.Throws<InvalidOperationException>(() => builder.Build());
        Assert.Throws<ArgumentNullException>(() => Exec.BatchingMemoryStore(null!));
        Assert.Throws<ArgumentException>(() => Exec.BatchingMemoryStore(new InMemoryStore()).WithMaxDegreeOfParallelism(0).Build());
    }

    private static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string? Text(ReadOnlyMemory<byte>? value) => value is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : null;
}
