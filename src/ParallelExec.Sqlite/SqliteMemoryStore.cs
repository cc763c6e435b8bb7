using System.Data;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using ParallelExec.Memory;
using Polly;
using Polly.Retry;

namespace ParallelExec.Sqlite;

/// <summary>
/// An <see cref="IMemoryStore"/> in a SQLite database (a file, or <c>:memory:</c>): WAL journal, prepared statements,
/// bulk operations in one transaction, a bounded Polly retry when another connection holds the database busy.
/// </summary>
/// <remarks>
/// <para>
/// The store owns one connection, opened with its schema on first use, and runs one operation at a time on it (SQLite
/// serializes writers anyway; readers in other processes keep reading thanks to WAL). Single writes run in autocommit
/// mode; every bulk operation runs in one transaction (<c>BEGIN IMMEDIATE</c> for writes) that commits whole or rolls
/// back whole, including when it is cancelled midway. For throughput, coalesce concurrent single calls into bulk calls
/// with <c>ParallelExec.Memory.BatchingMemoryStore</c>.
/// </para>
/// <para>
/// Durability: WAL with <c>synchronous=NORMAL</c>: a committed write survives a crash of the process; the last commits
/// before a power loss may be lost, never corrupted. Expired rows are invisible at once and deleted by
/// <see cref="RemoveExpiredAsync"/>.
/// </para>
/// </remarks>
[DebuggerDisplay("SqliteMemoryStore {_options.DataSource}")]
public sealed class SqliteMemoryStore : IMemoryStore, IAsyncDisposable
{
    private const string Table = "parallelexec_memory";
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;

    private readonly SqliteMemoryStoreOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SqliteConnection? _connection;
    private long _busyRetries;
    private Statements? _statements;
    private bool _disposed;

    /// <summary>Initializes a new instance of the <see cref="SqliteMemoryStore"/> class. Nothing is opened until first use.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public SqliteMemoryStore(SqliteMemoryStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        SqliteOptionsValidator.Validate(_options);
        _pipeline = _options.ResiliencePipeline ?? BuildBusyRetry(_options, () => Interlocked.Increment(ref _busyRetries));
    }

    /// <summary>Initializes a new instance of the <see cref="SqliteMemoryStore"/> class over a database file.</summary>
    /// <param name="dataSource">A file path, or <c>:memory:</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="dataSource"/> is empty.</exception>
    public SqliteMemoryStore(string dataSource)
        : this(new SqliteMemoryStoreOptions { DataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource)) })
    {
    }

    /// <summary>Gets how many times the built-in retry has retried an operation that found the database busy or locked.</summary>
    internal long BusyRetries => Interlocked.Read(ref _busyRetries);

    /// <summary>A test seam: called inside a bulk write's transaction after each row, with the row's index.</summary>
    internal Action<int>? AfterBulkRowWritten { get; set; }

    /// <inheritdoc/>
    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentException.ThrowIfNullOrEmpty(key);
        return RunAsync(static (store, args, _) =>
        {
            var s = store._statements!;
            s.GetNamespace.Value = args.namespaceName;
            s.GetKey.Value = args.key;
            s.GetNow.Value = store.NowMilliseconds();
            using var reader = s.Get.ExecuteReader(CommandBehavior.SingleRow);
            return reader.Read() ? (ReadOnlyMemory<byte>?)reader.GetFieldValue<byte[]>(0) : null;
        }, (namespaceName, key), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = CheckedKeys(keys);
        return RunAsync(static (store, args, token) =>
        {
            var found = new Dictionary<string, ReadOnlyMemory<byte>>(args.list.Count, StringComparer.Ordinal);
            if (args.list.Count == 0)
            {
                return (IReadOnlyDictionary<string, ReadOnlyMemory<byte>>)found;
            }

            var s = store._statements!;
            // One read transaction: one consistent snapshot and one lock acquisition for all the keys.
            using var transaction = store._connection!.BeginTransaction(deferred: true);
            s.Get.Transaction = transaction;
            try
            {
                s.GetNamespace.Value = args.namespaceName;
                s.GetNow.Value = store.NowMilliseconds();
                foreach (var key in args.list)
                {
                    token.ThrowIfCancellationRequested();
                    s.GetKey.Value = key;
                    using var reader = s.Get.ExecuteReader(CommandBehavior.SingleRow);
                    if (reader.Read())
                    {
                        found[key] = reader.GetFieldValue<byte[]>(0);
                    }
                }

                transaction.Commit();
            }
            finally
            {
                s.Get.Transaction = null;
            }

            return found;
        }, (namespaceName, list), cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentException.ThrowIfNullOrEmpty(key);
        CheckTimeToLive(timeToLive);
        await RunAsync(static (store, args, _) =>
        {
            var s = store._statements!;
            s.SetNamespace.Value = args.namespaceName;
            s.SetKey.Value = args.key;
            s.SetValue.Value = AsArray(args.value);
            s.SetExpiresAt.Value = store.ExpiresAt(args.timeToLive);
            s.Set.ExecuteNonQuery();
            return true;
        }, (namespaceName, key, value, timeToLive), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        CheckTimeToLive(timeToLive);
        var list = CheckedEntries(entries);
        await RunAsync(static (store, args, token) =>
        {
            if (args.list.Count == 0)
            {
                return true;
            }

            var s = store._statements!;
            using var transaction = store._connection!.BeginTransaction(deferred: false);
            s.Set.Transaction = transaction;
            try
            {
                s.SetNamespace.Value = args.namespaceName;
                s.SetExpiresAt.Value = store.ExpiresAt(args.timeToLive);
                for (var i = 0; i < args.list.Count; i++)
                {
                    // Checked inside the transaction: a cancellation midway rolls back every row already written.
                    token.ThrowIfCancellationRequested();
                    s.SetKey.Value = args.list[i].Key;
                    s.SetValue.Value = AsArray(args.list[i].Value);
                    s.Set.ExecuteNonQuery();
                    store.AfterBulkRowWritten?.Invoke(i);
                }

                token.ThrowIfCancellationRequested();
                transaction.Commit();
            }
            finally
            {
                s.Set.Transaction = null;
            }

            return true;
        }, (namespaceName, list, timeToLive), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentException.ThrowIfNullOrEmpty(key);
        return RunAsync(static (store, args, _) => store.DeleteOne(args.namespaceName, args.key), (namespaceName, key), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = CheckedKeys(keys);
        return RunAsync(static (store, args, token) =>
        {
            if (args.list.Count == 0)
            {
                return 0;
            }

            var s = store._statements!;
            using var transaction = store._connection!.BeginTransaction(deferred: false);
            s.Delete.Transaction = transaction;
            try
            {
                var deleted = 0;
                foreach (var key in args.list)
                {
                    token.ThrowIfCancellationRequested();
                    if (store.DeleteOne(args.namespaceName, key))
                    {
                        deleted++;
                    }
                }

                token.ThrowIfCancellationRequested();
                transaction.Commit();
                return deleted;
            }
            finally
            {
                s.Delete.Transaction = null;
            }
        }, (namespaceName, list), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentNullException.ThrowIfNull(prefix);
        return RunAsync(static (store, args, token) =>
        {
            var s = store._statements!;
            s.ListNamespace.Value = args.namespaceName;
            s.ListPrefix.Value = args.prefix;
            s.ListNow.Value = store.NowMilliseconds();
            var keys = new List<string>();
            using var reader = s.List.ExecuteReader();
            while (reader.Read())
            {
                token.ThrowIfCancellationRequested();
                keys.Add(reader.GetString(0));
            }

            // SQLite orders by UTF-8 bytes; sort again so the order is .NET's ordinal order in every case.
            keys.Sort(StringComparer.Ordinal);
            return (IReadOnlyList<string>)keys;
        }, (namespaceName, prefix), cancellationToken);
    }

    /// <summary>Deletes every expired row now.</summary>
    /// <param name="cancellationToken">Cancels the operation before it starts.</param>
    /// <returns>The number of rows deleted.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The store has been disposed.</exception>
    public ValueTask<int> RemoveExpiredAsync(CancellationToken cancellationToken = default) =>
        RunAsync(static (store, _, _) =>
        {
            var s = store._statements!;
            s.PurgeNow.Value = store.NowMilliseconds();
            return s.Purge.ExecuteNonQuery();
        }, 0, cancellationToken);

    /// <summary>Waits for the running operation, then closes the database. Idempotent; later calls throw <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _statements?.Dispose();
            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static ResiliencePipeline BuildBusyRetry(SqliteMemoryStoreOptions options, Action onRetry)
    {
        if (options.MaxBusyRetries == 0)
        {
            return ResiliencePipeline.Empty;
        }

        return new ResiliencePipelineBuilder { TimeProvider = options.TimeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<SqliteException>(IsBusyOrLocked),
                MaxRetryAttempts = options.MaxBusyRetries,
                Delay = options.BusyRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = _ =>
                {
                    onRetry();
                    return default;
                },
            })
            .Build();
    }

    internal static bool IsBusyOrLocked(SqliteException exception) =>
        exception.SqliteErrorCode is SqliteBusy or SqliteLocked || (exception.SqliteExtendedErrorCode & 0xFF) is SqliteBusy or SqliteLocked;

    /// <summary>
    /// Runs one operation through the resilience pipeline, one at a time on the store's connection. The gate is taken
    /// per attempt, so a retry's back-off does not hold other callers up.
    /// </summary>
    private async ValueTask<TResult> RunAsync<TArgs, TResult>(Func<SqliteMemoryStore, TArgs, CancellationToken, TResult> operation, TArgs args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return await _pipeline.ExecuteAsync(
            static async (context, token) =>
            {
                var store = context.Store;
                await store._gate.WaitAsync(token).ConfigureAwait(false);
                try
                {
                    ObjectDisposedException.ThrowIf(store._disposed, store);
                    token.ThrowIfCancellationRequested();
                    store.EnsureOpen();
                    return context.Operation(store, context.Args, token);
                }
                finally
                {
                    store._gate.Release();
                }
            },
            (Store: this, Operation: operation, Args: args),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the connection and creates the schema on first use (under the gate).</summary>
    private void EnsureOpen()
    {
        if (_statements is not null)
        {
            return;
        }

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _options.DataSource,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // The store keeps its one connection; pooling would only keep the file open after disposal.
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(_options.BusyTimeout.TotalSeconds),
        }.ToString();
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            Execute(connection, "PRAGMA journal_mode=WAL;");
            Execute(connection, "PRAGMA synchronous=NORMAL;");
            Execute(connection, $"""
                CREATE TABLE IF NOT EXISTS {Table} (
                    namespace TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value BLOB NOT NULL,
                    expires_at INTEGER NULL,
                    PRIMARY KEY (namespace, key)
                ) WITHOUT ROWID;
                """);
            _statements = new Statements(connection);
            _connection = connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private bool DeleteOne(string namespaceName, string key)
    {
        var s = _statements!;
        s.DeleteNamespace.Value = namespaceName;
        s.DeleteKey.Value = key;
        s.DeleteNow.Value = NowMilliseconds();
        using var reader = s.Delete.ExecuteReader();
        // RETURNING reports whether the deleted row was still live; an expired row is removed but does not count.
        return reader.Read() && reader.GetInt64(0) != 0;
    }

    private long NowMilliseconds() => _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private object ExpiresAt(TimeSpan? timeToLive)
    {
        if (timeToLive is not { } ttl)
        {
            return DBNull.Value;
        }

        var now = NowMilliseconds();
        var milliseconds = (long)Math.Ceiling(ttl.TotalMilliseconds);
        return milliseconds >= long.MaxValue - now ? DBNull.Value : now + milliseconds;
    }

    private static byte[] AsArray(ReadOnlyMemory<byte> value) =>
        MemoryMarshal.TryGetArray(value, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : value.ToArray();

    private static void CheckTimeToLive(TimeSpan? timeToLive)
    {
        if (timeToLive is { } ttl && ttl <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeToLive), ttl, "The time to live must be greater than zero, or null for no expiry.");
        }
    }

    private static List<string> CheckedKeys(IEnumerable<string> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var list = new List<string>();
        foreach (var key in keys)
        {
            if (string.IsNullOrEmpty(key))
            {
                throw new ArgumentException($"Every key must be a non-empty string; found {(key is null ? "null" : "an empty string")} at index {list.Count}.", nameof(keys));
            }

            list.Add(key);
        }

        return list;
    }

    private static List<KeyValuePair<string, ReadOnlyMemory<byte>>> CheckedEntries(IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var list = new List<KeyValuePair<string, ReadOnlyMemory<byte>>>();
        foreach (var entry in entries)
        {
            if (string.IsNullOrEmpty(entry.Key))
            {
                throw new ArgumentException($"Every key must be a non-empty string; found {(entry.Key is null ? "null" : "an empty string")} at index {list.Count}.", nameof(entries));
            }

            list.Add(entry);
        }

        return list;
    }

    /// <summary>The prepared statements of the store's connection and their parameters, reused for every call.</summary>
    private sealed class Statements : IDisposable
    {
        public Statements(SqliteConnection connection)
        {
            Get = Prepare(connection, $"SELECT value FROM {Table} WHERE namespace = $ns AND key = $key AND (expires_at IS NULL OR expires_at > $now);", "$ns", "$key", "$now");
            (GetNamespace, GetKey, GetNow) = (Get.Parameters["$ns"], Get.Parameters["$key"], Get.Parameters["$now"]);

            Set = Prepare(connection, $"""
                INSERT INTO {Table} (namespace, key, value, expires_at) VALUES ($ns, $key, $value, $expires)
                ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at;
                """,
                "$ns",
                "$key",
                "$value",
                "$expires");
            (SetNamespace, SetKey, SetValue, SetExpiresAt) = (Set.Parameters["$ns"], Set.Parameters["$key"], Set.Parameters["$value"], Set.Parameters["$expires"]);

            Delete = Prepare(connection, $"DELETE FROM {Table} WHERE namespace = $ns AND key = $key RETURNING (expires_at IS NULL OR expires_at > $now);", "$ns", "$key", "$now");
            (DeleteNamespace, DeleteKey, DeleteNow) = (Delete.Parameters["$ns"], Delete.Parameters["$key"], Delete.Parameters["$now"]);

            List = Prepare(connection, $"""
                SELECT key FROM {Table}
                WHERE namespace = $ns AND key >= $prefix AND substr(key, 1, length($prefix)) = $prefix
                  AND (expires_at IS NULL OR expires_at > $now)
                ORDER BY key;
                """,
                "$ns",
                "$prefix",
                "$now");
            (ListNamespace, ListPrefix, ListNow) = (List.Parameters["$ns"], List.Parameters["$prefix"], List.Parameters["$now"]);

            Purge = Prepare(connection, $"DELETE FROM {Table} WHERE expires_at IS NOT NULL AND expires_at <= $now;", "$now");
            PurgeNow = Purge.Parameters["$now"];
        }

        public SqliteCommand Get { get; }

        public SqliteParameter GetNamespace { get; }

        public SqliteParameter GetKey { get; }

        public SqliteParameter GetNow { get; }

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

        public void Dispose()
        {
            Get.Dispose();
            Set.Dispose();
            Delete.Dispose();
            List.Dispose();
            Purge.Dispose();
        }

        private static SqliteCommand Prepare(SqliteConnection connection, string sql, params string[] parameterNames)
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
}
