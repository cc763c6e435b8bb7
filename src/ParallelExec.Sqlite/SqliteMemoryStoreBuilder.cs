using Polly;

namespace ParallelExec.Sqlite;

/// <summary>
/// Builds a <see cref="SqliteMemoryStore"/> (<see cref="SqliteMemoryStore.CreateBuilder"/>): the busy handling and
/// resilience, besides the methods every builder shares. Single use.
/// </summary>
public sealed class SqliteMemoryStoreBuilder : ComponentBuilder<SqliteMemoryStoreBuilder, SqliteMemoryStoreOptions, SqliteMemoryStore>
{
    internal SqliteMemoryStoreBuilder(string dataSource)
        : base(new SqliteMemoryStoreOptions { DataSource = dataSource })
    {
    }

    /// <summary>Sets the built-in retry of busy or locked errors (<see cref="SqliteMemoryStoreOptions.MaxBusyRetries"/>, <see cref="SqliteMemoryStoreOptions.BusyRetryDelay"/>).</summary>
    /// <param name="maxRetries">Zero or more.</param>
    /// <param name="firstDelay">The first back-off delay; greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public SqliteMemoryStoreBuilder WithBusyRetry(int maxRetries, TimeSpan firstDelay) => Set(o =>
    {
        o.MaxBusyRetries = maxRetries;
        o.BusyRetryDelay = firstDelay;
    });

    /// <summary>Sets how long one attempt waits inside SQLite for another connection's lock (<see cref="SqliteMemoryStoreOptions.BusyTimeout"/>).</summary>
    /// <param name="busyTimeout">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public SqliteMemoryStoreBuilder WithBusyTimeout(TimeSpan busyTimeout) => Set(o => o.BusyTimeout = busyTimeout);

    /// <summary>Runs every operation through a Polly pipeline instead of the built-in busy retry (<see cref="SqliteMemoryStoreOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built its store.</exception>
    public SqliteMemoryStoreBuilder WithResilience(ResiliencePipeline pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => o.ResiliencePipeline = pipeline);
    }

    /// <inheritdoc/>
    protected override SqliteMemoryStore Create(SqliteMemoryStoreOptions options) => new(options);
}
