using System.Data;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using ParallelExec.Internal;
using ParallelExec.Memory;
using Polly;

namespace ParallelExec.Sqlite;

// Locking: each connection and its prepared statements belong to a lane (SqliteLane): one operation at a time runs on
// it, on the thread that drains it (and groups the single-key calls waiting for it into one transaction, see
// SqliteLane.Groups.cs); a lane is taken per attempt, so a retry's back-off holds nobody up. Writes go to the
// one writer lane; reads of a database file go to one of ReadConnections reader lanes (WAL lets them read beside the
// writer), reads of an in-memory database to the writer. _lock guards the ledger only and is held for counting; no user
// code runs under it (the resilience pipeline and the callers' continuations run outside). The store holds no queued
// work of its own (callers waiting for a connection are their own awaits), so it is IAsyncDisposable, not an
// IExecComponent.

/// <summary>
/// An <see cref="IMemoryStore"/> in a SQLite database (a file, or <c>:memory:</c>): WAL journal, prepared statements,
/// bulk operations in one transaction, a bounded Polly retry when another connection holds the database busy.
/// </summary>
/// <remarks>
/// <para>
/// The store owns one writer connection, opened with its schema on first use, and for a database file
/// <see cref="SqliteMemoryStoreOptions.ReadConnections"/> reader connections: SQLite serializes writers anyway, and WAL
/// lets the readers (and readers in other processes) read beside the writer. Each connection runs one operation at a
/// time, back to back under contention, and the single-key reads (or writes) waiting for the same connection share one
/// transaction: a write completes when its group commits, and a write that fails in a group fails alone (the others run
/// again on their own). So concurrent callers are faster than one. A lone single-key write runs in autocommit mode;
/// every bulk operation runs in one transaction (<c>BEGIN IMMEDIATE</c> for writes) that commits whole or rolls back
/// whole, including when it is cancelled midway. For throughput, coalesce concurrent single calls into bulk calls with
/// <c>ParallelExec.Memory.BatchingMemoryStore</c>.
/// </para>
/// <para>
/// Durability: WAL with <c>synchronous=NORMAL</c>: a committed write survives a crash of the process; the last commits
/// before a power loss may be lost, never corrupted. Expired rows are invisible at once and deleted by
/// <see cref="RemoveExpiredAsync"/>.
/// </para>
/// <para>
/// Telemetry: the <c>parallelexec.memory.*</c> instruments (a caller waiting for the connection counts as queued, the
/// running operation as in flight), a span per bulk call; <see cref="GetStatistics"/> counts every key operated on.
/// </para>
/// </remarks>
[DebuggerDisplay("SqliteMemoryStore {_options.DataSource}")]
public sealed partial class SqliteMemoryStore : IMemoryStore, IAsyncDisposable, IInstrumentedComponent
{
    private readonly SqliteMemoryStoreOptions _options;
    private readonly ResiliencePipeline _pipeline;
    private readonly MemoryStoreTelemetry _telemetry;

    /// <summary>Initializes a new instance of the <see cref="SqliteMemoryStore"/> class. Nothing is opened until first use.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public SqliteMemoryStore(SqliteMemoryStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        Name = _options.Name;
        _pipeline = _options.ResiliencePipeline ?? BuildBusyRetry(_options, () => Interlocked.Increment(ref _busyRetries));
        _telemetry = new MemoryStoreTelemetry(_options);
        CreateLanes();
        _telemetry.Instruments.Live.Add(this);
    }

    /// <summary>Initializes a new instance of the <see cref="SqliteMemoryStore"/> class over a database file.</summary>
    /// <param name="dataSource">A file path, or <c>:memory:</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="dataSource"/> is empty.</exception>
    public SqliteMemoryStore(string dataSource)
        : this(new SqliteMemoryStoreOptions { DataSource = dataSource ?? throw new ArgumentNullException(nameof(dataSource)) })
    {
    }

    /// <summary>Starts building a store over <paramref name="dataSource"/>.</summary>
    /// <param name="dataSource">A file path, or <c>:memory:</c>.</param>
    /// <returns>A single-use builder; <c>Build()</c> returns the store (nothing is opened until its first use).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="dataSource"/> is <see langword="null"/>.</exception>
    public static SqliteMemoryStoreBuilder CreateBuilder(string dataSource)
    {
        ArgumentNullException.ThrowIfNull(dataSource);
        return new SqliteMemoryStoreBuilder(dataSource);
    }

    /// <summary>Gets the store's name (<see cref="ComponentOptions.Name"/>), the tag of its metrics and spans.</summary>
    public string Name { get; }

    /// <summary>Gets how many times the built-in retry has retried an operation that found the database busy or locked.</summary>
    internal long BusyRetries => Interlocked.Read(ref _busyRetries);

    /// <summary>Gets how many group transactions the store's connections have begun (for tests).</summary>
    internal long GroupTransactions => _writer.GroupTransactions + _readers.Sum(reader => reader.GroupTransactions);

    /// <summary>A test seam: called inside a bulk write's transaction after each row, with the row's index.</summary>
    internal Action<int>? AfterBulkRowWritten { get; set; }

    /// <inheritdoc/>
    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        return RunAsync(MemoryOperation.Get, 1, bulk: false, static (store, s, args, _) =>
        {
            s.GetNamespace.Value = args.namespaceName;
            s.GetKey.Value = args.key;
            s.GetNow.Value = store.NowMilliseconds();
            using var reader = s.Get.ExecuteReader(CommandBehavior.SingleRow);
            var found = reader.Read();
            store._telemetry.Lookups(found ? 1 : 0, found ? 0 : 1);
            return found ? (ReadOnlyMemory<byte>?)reader.GetFieldValue<byte[]>(0) : null;
        }, (namespaceName, key), cancellationToken, LaneGroup.Read);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        return RunAsync(MemoryOperation.Get, list.Count, bulk: true, static (store, s, args, token) =>
        {
            var found = new Dictionary<string, ReadOnlyMemory<byte>>(args.list.Count, StringComparer.Ordinal);
            if (args.list.Count == 0)
            {
                return (IReadOnlyDictionary<string, ReadOnlyMemory<byte>>)found;
            }

            // One read transaction: one consistent snapshot and one lock acquisition for all the keys.
            using var transaction = s.Connection.BeginTransaction(deferred: true);
            s.Enlist(transaction, write: false);
            try
            {
                store.ReadInChunks(s, args.namespaceName, args.list, found, token);
                transaction.Commit();
            }
            finally
            {
                s.Enlist(null, write: false);
            }

            var hits = 0;
            foreach (var key in args.list)
            {
                hits += found.ContainsKey(key) ? 1 : 0;
            }

            store._telemetry.Lookups(hits, args.list.Count - hits);
            return found;
        }, (namespaceName, list), cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        await RunAsync(MemoryOperation.Set, 1, bulk: false, static (store, s, args, _) =>
        {
            s.SetNamespace.Value = args.namespaceName;
            s.SetKey.Value = args.key;
            s.SetValue.Value = AsArray(args.value);
            s.SetExpiresAt.Value = store.ExpiresAt(args.timeToLive);
            s.Set.ExecuteNonQuery();
            return true;
        }, (namespaceName, key, value, timeToLive), cancellationToken, LaneGroup.Write).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var list = MemoryStoreArguments.Entries(entries);
        await RunAsync(MemoryOperation.Set, list.Count, bulk: true, static (store, s, args, token) =>
        {
            if (args.list.Count == 0)
            {
                return true;
            }

            using var transaction = s.Connection.BeginTransaction(deferred: false);
            s.Enlist(transaction, write: true);
            try
            {
                store.WriteInChunks(s, args.namespaceName, args.list, args.timeToLive, token);
                token.ThrowIfCancellationRequested();
                transaction.Commit();
            }
            finally
            {
                s.Enlist(null, write: true);
            }

            return true;
        }, (namespaceName, list, timeToLive), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        return RunAsync(MemoryOperation.Remove, 1, bulk: false, static (store, s, args, _) => store.DeleteOne(s, args.namespaceName, args.key), (namespaceName, key), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        return RunAsync(MemoryOperation.Remove, list.Count, bulk: true, static (store, s, args, token) =>
        {
            if (args.list.Count == 0)
            {
                return 0;
            }

            using var transaction = s.Connection.BeginTransaction(deferred: false);
            s.Delete.Transaction = transaction;
            try
            {
                var deleted = 0;
                foreach (var key in args.list)
                {
                    token.ThrowIfCancellationRequested();
                    if (store.DeleteOne(s, args.namespaceName, key))
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
        return RunAsync(MemoryOperation.List, 0, bulk: true, static (store, s, args, token) =>
        {
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
        RunAsync(MemoryOperation.Remove, 0, bulk: false, static (store, s, _, _) =>
        {
            s.PurgeNow.Value = store.NowMilliseconds();
            var removed = s.Purge.ExecuteNonQuery();
            store._telemetry.Expired(removed);
            return removed;
        }, 0, cancellationToken);

    private bool DeleteOne(SqliteStatements s, string namespaceName, string key)
    {
        s.DeleteNamespace.Value = namespaceName;
        s.DeleteKey.Value = key;
        s.DeleteNow.Value = NowMilliseconds();
        using var reader = s.Delete.ExecuteReader();
        if (!reader.Read())
        {
            return false;
        }

        // RETURNING reports whether the deleted row was still live; an expired row is removed but does not count.
        var live = reader.GetInt64(0) != 0;
        if (!live)
        {
            _telemetry.Expired(1);
        }

        return live;
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
}
