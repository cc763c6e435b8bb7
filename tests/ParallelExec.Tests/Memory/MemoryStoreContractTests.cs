using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Time.Testing;
using ParallelExec.Memory;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Memory;

/// <summary>
/// The <see cref="IMemoryStore"/> contract, run against every implementation (this file is linked into the SQLite test
/// project too): a derived class only says how to make a store.
/// </summary>
public abstract class MemoryStoreContractTests : IAsyncLifetime
{
    private readonly List<IMemoryStore> _stores = [];

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>A name no other test uses, so this test's measurements and spans can be told apart from the rest of the suite's.</summary>
    protected string StoreName { get; } = "contract-" + Guid.NewGuid().ToString("N");

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            if (store is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    /// <summary>Makes a fresh, empty store named <paramref name="name"/> whose entries expire by <paramref name="timeProvider"/>.</summary>
    protected abstract IMemoryStore CreateStore(TimeProvider timeProvider, string name);

    protected IMemoryStore Store(TimeProvider? timeProvider = null)
    {
        var store = CreateStore(timeProvider ?? Time, StoreName);
        _stores.Add(store);
        return store;
    }

    protected static ReadOnlyMemory<byte> Bytes(string text) => Encoding.UTF8.GetBytes(text);

    protected static string? Text(ReadOnlyMemory<byte>? value) => value is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : null;

    [Fact]
    public async Task Set_then_get_returns_the_value_and_a_missing_key_returns_null()
    {
        var store = Store();
        await store.SetAsync("ns", "a", Bytes("one"));
        await store.SetAsync("ns", "a", Bytes("two"));
        await store.SetAsync("ns", "empty", ReadOnlyMemory<byte>.Empty);

        Assert.Equal("two", Text(await store.GetAsync("ns", "a")));
        Assert.Equal("", Text(await store.GetAsync("ns", "empty")));
        Assert.Null(await store.GetAsync("ns", "missing"));
    }

    [Fact]
    public async Task Namespaces_are_separate()
    {
        var store = Store();
        await store.SetAsync("agent-1", "goal", Bytes("write tests"));
        await store.SetAsync("agent-2", "goal", Bytes("write docs"));

        Assert.Equal("write tests", Text(await store.GetAsync("agent-1", "goal")));
        Assert.Equal("write docs", Text(await store.GetAsync("agent-2", "goal")));
        Assert.True(await store.DeleteAsync("agent-1", "goal"));
        Assert.Null(await store.GetAsync("agent-1", "goal"));
        Assert.Equal("write docs", Text(await store.GetAsync("agent-2", "goal")));
        Assert.Equal(["goal"], await store.ListKeysAsync("agent-2"));
    }

    [Fact]
    public async Task The_store_copies_the_value_so_the_caller_may_reuse_its_buffer()
    {
        var store = Store();
        var buffer = Encoding.UTF8.GetBytes("original");
        await store.SetAsync("ns", "k", buffer);
        buffer.AsSpan().Fill((byte)'x');

        Assert.Equal("original", Text(await store.GetAsync("ns", "k")));
    }

    [Fact]
    public async Task Bulk_set_get_and_delete()
    {
        var store = Store();
        await store.SetManyAsync("ns", [new("a", Bytes("1")), new("b", Bytes("2")), new("a", Bytes("3")), new("c", Bytes("4"))]);

        var found = await store.GetManyAsync("ns", ["a", "b", "missing", "b"]);

        Assert.Equal(["a", "b"], found.Keys.Order());
        Assert.Equal("3", Text(found["a"]));
        Assert.Equal("2", Text(found["b"]));
        Assert.Equal(2, await store.DeleteManyAsync("ns", ["a", "c", "missing"]));
        Assert.Equal(["b"], await store.ListKeysAsync("ns"));
        Assert.Empty(await store.GetManyAsync("ns", []));
        await store.SetManyAsync("ns", []);
    }

    [Fact]
    public async Task ListKeys_filters_by_prefix_within_the_namespace_in_ordinal_order()
    {
        var store = Store();
        await store.SetManyAsync("ns", new[] { "task/2", "task/10", "task/1", "taskforce", "note/1", "Task/3" }.Select(k => new KeyValuePair<string, ReadOnlyMemory<byte>>(k, Bytes(k))));
        await store.SetAsync("other", "task/9", Bytes("x"));

        Assert.Equal(["task/1", "task/10", "task/2"], await store.ListKeysAsync("ns", "task/"));
        Assert.Equal(["Task/3", "note/1", "task/1", "task/10", "task/2", "taskforce"], await store.ListKeysAsync("ns"));
        Assert.Empty(await store.ListKeysAsync("ns", "zzz"));
        Assert.Empty(await store.ListKeysAsync("nobody"));
    }

    [Fact]
    public async Task Entries_expire_by_the_injected_clock()
    {
        var store = Store();
        await store.SetAsync("ns", "short", Bytes("s"), TimeSpan.FromSeconds(10));
        await store.SetManyAsync("ns", [new("bulk", Bytes("b"))], TimeSpan.FromSeconds(20));
        await store.SetAsync("ns", "forever", Bytes("f"));

        Time.Advance(TimeSpan.FromSeconds(9));
        Assert.Equal("s", Text(await store.GetAsync("ns", "short")));
        Assert.Equal(["bulk", "forever", "short"], await store.ListKeysAsync("ns"));

        Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await store.GetAsync("ns", "short"));
        Assert.Equal(["bulk", "forever"], (await store.GetManyAsync("ns", ["short", "bulk", "forever"])).Keys.Order());
        Assert.Equal(["bulk", "forever"], await store.ListKeysAsync("ns"));
        Assert.False(await store.DeleteAsync("ns", "short"));

        Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(["forever"], await store.ListKeysAsync("ns"));
        Assert.Equal(0, await store.DeleteManyAsync("ns", ["bulk"]));

        // Writing again revives the key with a fresh lifetime.
        await store.SetAsync("ns", "short", Bytes("again"), TimeSpan.FromSeconds(10));
        Assert.Equal("again", Text(await store.GetAsync("ns", "short")));
    }

    [Fact]
    public async Task Null_or_empty_namespaces_and_keys_give_argument_exceptions_and_write_nothing()
    {
        var store = Store();
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.GetAsync(null!, "k"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetAsync("", "k"));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.GetAsync("ns", null!));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetAsync("ns", ""));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.SetAsync("ns", "", Bytes("v")));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.SetAsync("ns", null!, Bytes("v")));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.DeleteAsync("ns", ""));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.GetManyAsync("ns", null!));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetManyAsync("ns", ["ok", null!]));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.DeleteManyAsync("ns", ["ok", ""]));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.ListKeysAsync("ns", null!));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await store.SetAsync("ns", "k", Bytes("v"), TimeSpan.Zero));

        var bulk = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await store.SetManyAsync("ns", [new("first", Bytes("1")), new("", Bytes("2")), new("third", Bytes("3"))]));
        Assert.Equal("entries", bulk.ParamName);

        Assert.Empty(await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task A_cancelled_bulk_write_writes_nothing()
    {
        var store = Store();
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            await store.SetManyAsync("ns", Enumerable.Range(0, 100).Select(i => new KeyValuePair<string, ReadOnlyMemory<byte>>($"k{i}", Bytes("v"))), cancellationToken: cts.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.SetAsync("ns", "single", Bytes("v"), cancellationToken: cts.Token));

        Assert.Empty(await store.ListKeysAsync("ns"));
    }

    [Fact]
    public async Task Ledger_every_write_is_visible_once_its_await_returns()
    {
        var store = Store(TimeProvider.System);
        const int Writers = 16;
        const int KeysPerWriter = 60;

        var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var missed = new List<string>();
            for (var i = 0; i < KeysPerWriter; i++)
            {
                var key = $"w{w}/k{i}";
                await store.SetAsync("ledger", key, Bytes(key));
                if (Text(await store.GetAsync("ledger", key)) != key)
                {
                    missed.Add(key);
                }
            }

            return missed;
        }));
        var missedByWriter = await Task.WhenAll(writers).WithTimeout();

        Assert.All(missedByWriter, Assert.Empty);
        var keys = await store.ListKeysAsync("ledger");
        var expected = Enumerable.Range(0, Writers).SelectMany(w => Enumerable.Range(0, KeysPerWriter).Select(i => $"w{w}/k{i}")).Order(StringComparer.Ordinal);
        Assert.Equal(expected, keys);
        var all = await store.GetManyAsync("ledger", keys);
        Assert.All(all, pair => Assert.Equal(pair.Key, Text(pair.Value)));
    }

    [Fact]
    public async Task Statistics_count_every_key_operated_on_by_outcome_and_disposal_stops_the_store()
    {
        var store = Store();
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await store.SetAsync("ns", "a", Bytes("1"));
        await store.SetManyAsync("ns", [new("b", Bytes("2")), new("c", Bytes("3")), new("d", Bytes("4"))]);
        Assert.NotNull(await store.GetAsync("ns", "a"));
        Assert.Null(await store.GetAsync("ns", "missing"));
        Assert.Equal(2, (await store.GetManyAsync("ns", ["b", "c", "nope"])).Count);
        Assert.True(await store.DeleteAsync("ns", "a"));
        Assert.Equal(1, await store.DeleteManyAsync("ns", ["b", "nope"]));
        await store.ListKeysAsync("ns");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await store.SetManyAsync("ns", [new("x", Bytes("x")), new("y", Bytes("y"))], cancellationToken: cancelled.Token));
        await Assert.ThrowsAsync<ArgumentException>(async () => await store.GetAsync("ns", ""));

        var statistics = Statistics(store);
        Assert.Equal(StoreName, statistics.Name);
        Assert.Equal(
            new LedgerSnapshot { Submitted = 14, Succeeded = 12, Cancelled = 2 },
            statistics.Ledger);
        Assert.True(statistics.Ledger.IsBalanced);

        await ((IAsyncDisposable)store).DisposeAsync();
        await ((IAsyncDisposable)store).DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.GetAsync("ns", "c"));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await store.SetManyAsync("ns", [new("z", Bytes("z"))]));
    }

    [Fact]
    public async Task Telemetry_counts_keys_per_operation_and_traces_each_bulk_call()
    {
        var spans = new ConcurrentQueue<Activity>();
        using var meters = new TelemetryRecorder(StoreName, "parallelexec.memory.", recordSpans: false);
        using var activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ParallelExecTelemetry.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem(TelemetryTagNames.Name) as string == StoreName)
                {
                    spans.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(activities);

        var store = Store();
        await store.SetAsync("ns", "a", Bytes("1"));
        await store.SetManyAsync("ns", [new("b", Bytes("2")), new("c", Bytes("3"))]);
        await store.GetAsync("ns", "a");
        await store.GetManyAsync("ns", ["b", "missing"]);
        await store.DeleteManyAsync("ns", ["c"]);
        await store.ListKeysAsync("ns");

        const string Submitted = "parallelexec.memory.items.submitted";
        Assert.Equal(3, meters.Sum(Submitted, (TelemetryTagNames.Operation, "set")));
        Assert.Equal(3, meters.Sum(Submitted, (TelemetryTagNames.Operation, "get")));
        Assert.Equal(1, meters.Sum(Submitted, (TelemetryTagNames.Operation, "remove")));
        Assert.Equal(2, meters.Sum("parallelexec.memory.hits"));
        Assert.Equal(1, meters.Sum("parallelexec.memory.misses"));
        // One duration per call (six calls), each tagged with its operation and outcome.
        var durations = meters.Measurements.Where(m => m.Instrument == "parallelexec.memory.run.duration").ToList();
        Assert.Equal(6, durations.Count);
        Assert.All(durations, d => Assert.Equal("succeeded", d.Tags[TelemetryTagNames.Outcome]));
        Assert.Equal(["get", "get", "list", "remove", "set", "set"], durations.Select(d => (string)d.Tags[TelemetryTagNames.Operation]!).Order(StringComparer.Ordinal));
        Assert.Equal(
            ["parallelexec.memory.get", "parallelexec.memory.list", "parallelexec.memory.remove", "parallelexec.memory.set"],
            spans.Select(s => s.OperationName).Order(StringComparer.Ordinal));
        Assert.All(spans, span => Assert.Equal(span.OperationName["parallelexec.memory.".Length..], span.GetTagItem(TelemetryTagNames.Operation)));
    }

    /// <summary>Every store of the library has a GetStatistics() returning a ComponentStatistics; the contract reads it by reflection.</summary>
    private static ComponentStatistics Statistics(IMemoryStore store) =>
        (ComponentStatistics)store.GetType().GetMethod("GetStatistics", Type.EmptyTypes)!.Invoke(store, null)!;

    [Fact]
    public async Task Typed_json_helpers_round_trip_with_source_generated_and_reflection_metadata()
    {
        var store = Store();
        var note = new Note("remember", 3, ["a", "b"]);

        await store.SetJsonAsync("ns", "note", note, ContractJsonContext.Default.Note);
        var back = await store.GetJsonAsync("ns", "note", ContractJsonContext.Default.Note);
        var viaReflection = await store.GetJsonAsync<Note>("ns", "note");
        await store.SetJsonAsync("ns", "count", 42);

        Assert.Equal(note.Text, back!.Text);
        Assert.Equal(note.Tags, back.Tags);
        Assert.Equal(3, viaReflection!.Priority);
        Assert.Equal(42, await store.GetJsonAsync<int>("ns", "count"));
        Assert.Null(await store.GetJsonAsync("ns", "absent", ContractJsonContext.Default.Note));
        Assert.Equal("{\"Text\":\"remember\",\"Priority\":3,\"Tags\":[\"a\",\"b\"]}", Text(await store.GetAsync("ns", "note")));
    }
}

public sealed record Note(string Text, int Priority, string[] Tags);

[JsonSerializable(typeof(Note))]
public sealed partial class ContractJsonContext : JsonSerializerContext;
