using ParallelExec.Memory;
using ParallelExec.Tests.Memory;

namespace ParallelExec.Sqlite.Tests;

/// <summary>The shared <see cref="IMemoryStore"/> contract on a real SQLite file.</summary>
public sealed class SqliteFileMemoryStoreContractTests : MemoryStoreContractTests
{
    private readonly SqliteTestDatabase _database = new();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _database.Dispose();
    }

    protected override IMemoryStore CreateStore(TimeProvider timeProvider, string name) =>
        new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = _database.NewPath(), TimeProvider = timeProvider, Name = name });
}

/// <summary>The shared <see cref="IMemoryStore"/> contract on an in-memory SQLite database.</summary>
public sealed class SqliteInMemoryMemoryStoreContractTests : MemoryStoreContractTests
{
    protected override IMemoryStore CreateStore(TimeProvider timeProvider, string name) =>
        new SqliteMemoryStore(new SqliteMemoryStoreOptions { DataSource = ":memory:", TimeProvider = timeProvider, Name = name });
}
