using ParallelExec.Tests.Reliability;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// The bad-input table of ParallelExec.Sqlite (the same machinery as ParallelExec's OptionsBadValueTests): every bad
/// value of every public option is refused with an <see cref="ArgumentException"/> naming the option and quoting the
/// value, every public constructor and factory refuses null and empty arguments by name, and a new options type or
/// option without rows fails <see cref="Every_public_option_has_rows"/>.
/// </summary>
public sealed class SqliteBadInputTests
{
    private static readonly TimeSpan Negative = TimeSpan.FromMilliseconds(-2);

    private static readonly OptionsTable Table = new OptionsTable()
        .Type(() => new SqliteMemoryStoreOptions(), o => new SqliteMemoryStore(o).DisposeAsync().AsTask().GetAwaiter().GetResult())
        .Bad<ComponentOptions>(nameof(ComponentOptions.Name), "", "   ")
        .Bad<ComponentOptions>(nameof(ComponentOptions.TimeProvider), [null])
        .Bad<ComponentOptions>(nameof(ComponentOptions.DrainTimeout), Negative, TimeSpan.MinValue, TimeSpan.MaxValue)
        .Bad<SqliteMemoryStoreOptions>(nameof(SqliteMemoryStoreOptions.DataSource), null, "", "  ")
        .Bad<SqliteMemoryStoreOptions>(nameof(SqliteMemoryStoreOptions.BusyTimeout), TimeSpan.Zero, Negative, TimeSpan.FromHours(1) + TimeSpan.FromTicks(1), TimeSpan.MaxValue)
        .Bad<SqliteMemoryStoreOptions>(nameof(SqliteMemoryStoreOptions.MaxBusyRetries), -1, int.MinValue, 10_001)
        .Bad<SqliteMemoryStoreOptions>(nameof(SqliteMemoryStoreOptions.BusyRetryDelay), TimeSpan.Zero, Negative, TimeSpan.MaxValue)
        .Bad<SqliteMemoryStoreOptions>(nameof(SqliteMemoryStoreOptions.ReadConnections), 0, -1, 65, int.MaxValue);

    public static TheoryData<string, string, string> Rows() => Table.Rows();

    [Theory]
    [MemberData(nameof(Rows))]
    public void A_bad_option_is_refused_naming_it_and_its_value(string type, string property, string value) =>
        Table.AssertRefused(type, property, value);

    [Fact]
    public void Every_public_option_has_rows() => Table.AssertEveryOptionHasRows(typeof(SqliteMemoryStore).Assembly, "SqliteBadInputTests.Table");

    [Fact]
    public void Constructors_and_factories_refuse_null_and_empty_arguments_by_name()
    {
        Assert.Throws<ArgumentNullException>("options", () => new SqliteMemoryStore((SqliteMemoryStoreOptions)null!));
        Assert.Throws<ArgumentNullException>("dataSource", () => new SqliteMemoryStore((string)null!));
        Assert.Throws<ArgumentNullException>("dataSource", () => SqliteMemoryStore.CreateBuilder(null!));
        // The path constructor validates through the options: the option is named (DataSource) with the value.
        var empty = Assert.Throws<ArgumentException>("DataSource", () => new SqliteMemoryStore(""));
        Assert.Contains("DataSource = \"\"", empty.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>("DataSource", () => SqliteMemoryStore.CreateBuilder(" ").Build());
    }

    [Fact]
    public async Task A_bad_call_on_an_open_store_loses_nothing_already_written()
    {
        using var database = new SqliteTestDatabase();
        await using var store = new SqliteMemoryStore(database.NewPath());
        for (int i = 0; i < 10; i++)
        {
            await store.SetAsync("ns", $"k{i}", BitConverter.GetBytes(i));
        }

        await Assert.ThrowsAsync<ArgumentNullException>("namespaceName", async () => await store.SetAsync(null!, "k", new byte[1]));
        await Assert.ThrowsAsync<ArgumentException>("key", async () => await store.SetAsync("ns", "", new byte[1]));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>("timeToLive", async () => await store.SetAsync("ns", "k0", new byte[1], TimeSpan.FromSeconds(-1)));
        await Assert.ThrowsAsync<ArgumentNullException>(async () => await store.SetManyAsync("ns", null!));

        IReadOnlyDictionary<string, ReadOnlyMemory<byte>> values = await store.GetManyAsync("ns", Enumerable.Range(0, 10).Select(i => $"k{i}"));
        Assert.Equal(10, values.Count);
        Assert.All(Enumerable.Range(0, 10), i => Assert.Equal(i, BitConverter.ToInt32(values[$"k{i}"].Span)));
    }
}
