using ParallelExec.Hosting.Registration;
using ParallelExec.Memory;
using ParallelExec.Sqlite;

namespace ParallelExec.Hosting;

/// <summary>Registers memory stores (<see cref="IMemoryStore"/>) with the host.</summary>
public static class MemoryStoreRegistration
{
    /// <summary>
    /// Registers an <see cref="InMemoryStore"/>, resolvable as itself and as <see cref="IMemoryStore"/>, unkeyed or
    /// keyed by <paramref name="name"/>, bound from <c>ParallelExec:InMemoryStore:&lt;name&gt;</c>.
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The store's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>A builder whose <c>WithBatching()</c> puts a batching store in front.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a store of that name is already registered.</exception>
    public static MemoryStoreRegistrationBuilder AddMemoryStore(this IParallelExecBuilder builder, string? name = null, Action<InMemoryStoreBuilder>? configure = null)
    {
        var registration = RegistrationHelper.Add<InMemoryStore>(builder, "InMemoryStore", name, (services, registration) =>
            ComponentFactory.Build<InMemoryStoreBuilder, InMemoryStoreOptions, InMemoryStore>(
                services, registration, Exec.MemoryStore(), configure is null ? null : (_, b) => configure(b), new CallbackSlots<InMemoryStoreOptions>()));
        return new MemoryStoreRegistrationBuilder(builder.Services, registration);
    }

    /// <summary>
    /// Registers a <see cref="SqliteMemoryStore"/>, resolvable as itself and as <see cref="IMemoryStore"/>, unkeyed or
    /// keyed by <paramref name="name"/>, bound from <c>ParallelExec:SqliteMemoryStore:&lt;name&gt;</c> (its
    /// <c>DataSource</c> there overrides <paramref name="dataSource"/>).
    /// </summary>
    /// <param name="builder">The builder from <c>AddParallelExec()</c>.</param>
    /// <param name="name">The store's name and key, or <see langword="null"/> for the unnamed default.</param>
    /// <param name="dataSource">The database file, or <c>:memory:</c>.</param>
    /// <param name="configure">Configures the library's builder; <see langword="null"/> keeps the defaults.</param>
    /// <returns>A builder whose <c>WithBatching()</c> puts a batching store in front.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="builder"/> or <paramref name="dataSource"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, or a store of that name is already registered.</exception>
    public static MemoryStoreRegistrationBuilder AddSqliteMemoryStore(this IParallelExecBuilder builder, string? name, string dataSource, Action<SqliteMemoryStoreBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        var registration = RegistrationHelper.Add<SqliteMemoryStore>(builder, "SqliteMemoryStore", name, (services, registration) =>
            ComponentFactory.Build<SqliteMemoryStoreBuilder, SqliteMemoryStoreOptions, SqliteMemoryStore>(
                services, registration, SqliteMemoryStore.CreateBuilder(dataSource), configure is null ? null : (_, b) => configure(b), new CallbackSlots<SqliteMemoryStoreOptions>()));
        return new MemoryStoreRegistrationBuilder(builder.Services, registration);
    }
}
