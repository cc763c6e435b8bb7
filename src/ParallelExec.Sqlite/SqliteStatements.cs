using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ParallelExec.Sqlite;

/// <summary>
/// One connection of the store (WAL journal, schema created on first use) and the prepared statements with their
/// parameters, reused for every call. Used by one operation at a time, by the lane that owns it.
/// </summary>
internal sealed class SqliteStatements : IDisposable
{
    private const string TableName = "parallelexec_memory";

    /// <summary>The sizes of the chunk statements: a bulk call of n keys takes the largest that fit, then smaller ones,
    /// and its last few keys (fewer than the smallest) go one by one. The batches of a batching store over 64 callers
    /// hold about 20 keys, so the smaller sizes matter as much as the largest.</summary>
    private static readonly int[] ChunkSizes = [32, 16, 8, 4];

    /// <summary>Opens the connection, sets WAL, creates the schema if needed and prepares the statements.</summary>
    /// <param name="options">The store's options.</param>
    /// <returns>The statements, owning the open connection.</returns>
    public static SqliteStatements Open(SqliteMemoryStoreOptions options)
    {
        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.DataSource,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // The store keeps its connections; pooling would only keep the file open after disposal.
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "PRAGMA synchronous=NORMAL;");
            Execute(connection, $"""
                CREATE TABLE IF NOT EXISTS {TableName} (
                    namespace TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value BLOB NOT NULL,
                    expires_at INTEGER NULL,
                    PRIMARY KEY (namespace, key)
                ) WITHOUT ROWID;
                """);
            return new SqliteStatements(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private readonly SqliteCommand _beginRead;
    private readonly SqliteCommand _beginWrite;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;

    /// <summary>Gets the open connection the statements run on.</summary>
    public SqliteConnection Connection { get; }

    private SqliteStatements(SqliteConnection connection)
    {
        Connection = connection;
        Get = Prepare(connection, $"SELECT value FROM {TableName} WHERE namespace = $ns AND key = $key AND (expires_at IS NULL OR expires_at > $now);", "$ns", "$key", "$now");
        (GetNamespace, GetKey, GetNow) = (Get.Parameters["$ns"], Get.Parameters["$key"], Get.Parameters["$now"]);

        Set = Prepare(connection, $"""
            INSERT INTO {TableName} (namespace, key, value, expires_at) VALUES ($ns, $key, $value, $expires)
            ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at;
            """,
            "$ns",
            "$key",
            "$value",
            "$expires");
        (SetNamespace, SetKey, SetValue, SetExpiresAt) = (Set.Parameters["$ns"], Set.Parameters["$key"], Set.Parameters["$value"], Set.Parameters["$expires"]);

        Delete = Prepare(connection, $"DELETE FROM {TableName} WHERE namespace = $ns AND key = $key RETURNING (expires_at IS NULL OR expires_at > $now);", "$ns", "$key", "$now");
        (DeleteNamespace, DeleteKey, DeleteNow) = (Delete.Parameters["$ns"], Delete.Parameters["$key"], Delete.Parameters["$now"]);

        List = Prepare(connection, $"""
            SELECT key FROM {TableName}
            WHERE namespace = $ns AND key >= $prefix AND substr(key, 1, length($prefix)) = $prefix
              AND (expires_at IS NULL OR expires_at > $now)
            ORDER BY key;
            """,
            "$ns",
            "$prefix",
            "$now");
        (ListNamespace, ListPrefix, ListNow) = (List.Parameters["$ns"], List.Parameters["$prefix"], List.Parameters["$now"]);

        GetChunks = [.. ChunkSizes.Select(rows => SqliteChunkStatement.Read(connection, TableName, rows))];
        SetChunks = [.. ChunkSizes.Select(rows => SqliteChunkStatement.Write(connection, TableName, rows))];

        Purge = Prepare(connection, $"DELETE FROM {TableName} WHERE expires_at IS NOT NULL AND expires_at <= $now;", "$now");
        PurgeNow = Purge.Parameters["$now"];

        // A lane's group transactions, in plain SQL: Microsoft.Data.Sqlite's SqliteTransaction would have to be set on
        // every command the group runs. The store's own bulk operations use SqliteTransaction and never run in a group.
        _beginRead = Prepare(connection, "BEGIN;");
        _beginWrite = Prepare(connection, "BEGIN IMMEDIATE;");
        _commit = Prepare(connection, "COMMIT;");
        _rollback = Prepare(connection, "ROLLBACK;");
    }

    /// <summary>Gets a value indicating whether the connection is inside a transaction (SQLite's autocommit is off).</summary>
    public bool InTransaction => raw.sqlite3_get_autocommit(Connection.Handle) == 0;

    public SqliteCommand Get { get; }

    public SqliteParameter GetNamespace { get; }

    public SqliteParameter GetKey { get; }

    public SqliteParameter GetNow { get; }

    /// <summary>Gets the statements that read a bulk call's keys several at a time, largest first (<see cref="ChunkSizes"/>).</summary>
    public SqliteChunkStatement[] GetChunks { get; }

    /// <summary>Gets the statements that upsert a bulk call's rows several at a time, largest first (<see cref="ChunkSizes"/>).</summary>
    public SqliteChunkStatement[] SetChunks { get; }

    public SqliteCommand Set { get; }

    public SqliteParameter SetNamespace { get; }

    public SqliteParameter SetKey { get; }

    public SqliteParameter SetValue { get; }

    public SqliteParameter SetExpiresAt { get; }

    public SqliteCommand Delete { get; }

    public SqliteParameter DeleteNamespace { get; }

    public SqliteParameter DeleteKey { get; }

    public SqliteParameter DeleteNow { get; }

    public SqliteCommand List { get; }

    public SqliteParameter ListNamespace { get; }

    public SqliteParameter ListPrefix { get; }

    public SqliteParameter ListNow { get; }

    public SqliteCommand Purge { get; }

    public SqliteParameter PurgeNow { get; }

    /// <summary>Enlists the statements a bulk call uses in its transaction, or (null) takes them out again.</summary>
    public void Enlist(SqliteTransaction? transaction, bool write)
    {
        (write ? Set : Get).Transaction = transaction;
        foreach (var chunk in write ? SetChunks : GetChunks)
        {
            chunk.Command.Transaction = transaction;
        }
    }

    /// <summary>Begins a group transaction: deferred for reads (the snapshot is taken at the first read), immediate for
    /// writes (the write lock is taken now, waiting up to the busy timeout, not midway through the group).</summary>
    public void Begin(bool write) => (write ? _beginWrite : _beginRead).ExecuteNonQuery();

    public void Commit() => _commit.ExecuteNonQuery();

    public void Rollback() => _rollback.ExecuteNonQuery();

    public void Dispose()
    {
        _beginRead.Dispose();
        _beginWrite.Dispose();
        _commit.Dispose();
        _rollback.Dispose();
        Get.Dispose();
        Set.Dispose();
        foreach (var chunk in GetChunks.Concat(SetChunks))
        {
            chunk.Dispose();
        }

        Delete.Dispose();
        List.Dispose();
        Purge.Dispose();
        Connection.Dispose();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>Prepares <paramref name="sql"/> with its parameters (each bound to NULL until set); compiled once,
    /// kept by Microsoft.Data.Sqlite for as long as the command text is unchanged.</summary>
    internal static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameterNames)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameterNames)
        {
            command.Parameters.Add(new SqliteParameter(name, DBNull.Value));
        }

        // Compiled once; Microsoft.Data.Sqlite keeps the statement for as long as the command text is unchanged.
        command.Prepare();
        return command;
    }
}
