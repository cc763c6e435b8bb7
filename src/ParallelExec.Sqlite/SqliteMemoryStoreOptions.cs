using Polly;

namespace ParallelExec.Sqlite;

/// <summary>
/// Options of <see cref="SqliteMemoryStore"/>: the shared <see cref="ComponentOptions"/> (name, the clock that decides
/// when entries expire and that times retries, meter factory) plus the database and its busy handling; validated and
/// copied when the store is created.
/// </summary>
/// <remarks><see cref="ComponentOptions.DrainTimeout"/> has no effect: disposal waits for the one running operation, which holds the connection.</remarks>
public sealed class SqliteMemoryStoreOptions : ComponentOptions
{
    // Upper bounds far above any useful value: each reader is a connection with its own page cache, and a retry count or
    // busy timeout beyond these would only hang a caller.
    internal const int ReadConnectionsLimit = 64;
    internal const int MaxBusyRetriesLimit = 10_000;
    internal static readonly TimeSpan BusyTimeoutLimit = TimeSpan.FromHours(1);
    /// <summary>
    /// Gets or sets the database: a file path (created with its schema on first use) or <c>:memory:</c> for a private
    /// in-memory database that lives as long as the store.
    /// </summary>
    /// <value>The default is <c>:memory:</c>; must not be <see langword="null"/> or empty.</value>
    public string DataSource { get; set; } = ":memory:";

    /// <summary>
    /// Gets or sets how long one attempt waits inside SQLite for another connection's lock before it fails with
    /// SQLITE_BUSY and the retry takes over. Microsoft.Data.Sqlite counts this in whole seconds, so it is rounded up.
    /// </summary>
    /// <value>The default is 1 second; must be greater than zero and at most one hour.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how many times an operation that found the database busy or locked is retried (with exponential
    /// back-off and jitter starting at <see cref="BusyRetryDelay"/>) before its caller gets the
    /// <see cref="Microsoft.Data.Sqlite.SqliteException"/>. Ignored when <see cref="ResiliencePipeline"/> is set.
    /// </summary>
    /// <value>The default is 5; must be between 0 and 10,000.</value>
    public int MaxBusyRetries { get; set; } = 5;

    /// <summary>Gets or sets the first back-off delay of the busy retry. Ignored when <see cref="ResiliencePipeline"/> is set.</summary>
    /// <value>The default is 20 milliseconds; must be greater than zero.</value>
    public TimeSpan BusyRetryDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Gets or sets how many connections read a database file beside the one connection that writes (WAL lets readers
    /// and the writer work at once). Each runs one read at a time; a read goes to an idle one, or waits its turn, and
    /// the reads waiting for one connection run together in one read transaction. An in-memory database has one
    /// connection, which reads and writes.
    /// </summary>
    /// <value>The default is half the number of processors, at least 1 and at most 4; must be between 1 and 64.</value>
    /// <remarks>
    /// Half, because the callers need processors too: a connection's reads run one after another on one thread, and the
    /// callers' continuations run on the others. Measured on 2 processors with 8 and 64 concurrent readers, one reader
    /// connection was 1.5x and 1.1x faster than two: the reads waiting on it shared transactions, where two connections
    /// each ran their reads alone and contended for SQLite's file locks.
    /// </remarks>
    public int ReadConnections { get; set; } = Math.Clamp(Environment.ProcessorCount / 2, 1, 4);

    /// <summary>
    /// Gets or sets the Polly pipeline every operation runs through, replacing the built-in busy retry. Each attempt
    /// is a whole operation (a bulk write retries its whole transaction), so any retry it makes is safe.
    /// </summary>
    /// <value>The default is <see langword="null"/>: a retry of busy and locked errors built from <see cref="MaxBusyRetries"/> and <see cref="BusyRetryDelay"/>.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "SqliteMemoryStore";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(!string.IsNullOrWhiteSpace(DataSource), nameof(DataSource), DataSource, "must be a file path or :memory:")
            .Require(BusyTimeout > TimeSpan.Zero && BusyTimeout <= BusyTimeoutLimit, nameof(BusyTimeout), BusyTimeout, "must be greater than zero and at most one hour")
            .Require(MaxBusyRetries is >= 0 and <= MaxBusyRetriesLimit, nameof(MaxBusyRetries), MaxBusyRetries, $"must be between 0 and {MaxBusyRetriesLimit}")
            .Require(ReadConnections is > 0 and <= ReadConnectionsLimit, nameof(ReadConnections), ReadConnections, $"must be between 1 and {ReadConnectionsLimit}")
            .RequirePositive(BusyRetryDelay, nameof(BusyRetryDelay))
            // The retry delay is a timer: a longer span would fail on the first busy retry instead of here.
            .RequireTimerRange(BusyRetryDelay, nameof(BusyRetryDelay));
    }

    internal SqliteMemoryStoreOptions Clone() => (SqliteMemoryStoreOptions)MemberwiseClone();
}
