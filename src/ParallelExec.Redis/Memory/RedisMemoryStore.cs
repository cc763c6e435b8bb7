using System.Diagnostics;
using ParallelExec.Internal;
using ParallelExec.Memory;
using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// An <see cref="IMemoryStore"/> on a Redis server, through StackExchange.Redis: every bulk call is one round trip
/// (multi-key commands, pipelined, split into commands of <see cref="RedisMemoryStoreOptions.MaxKeysPerCommand"/> keys),
/// bulk writes and deletes are one <c>MULTI</c>/<c>EXEC</c> transaction (all or nothing), listings walk the keys with
/// <c>SCAN</c> (never <c>KEYS</c>), and a bounded Polly retry rides out a lost connection.
/// </summary>
/// <remarks>
/// <para>
/// Namespaces and lifetimes map onto keys: see <see cref="RedisMemoryStoreOptions.KeyPrefix"/> for the key names. An
/// entry with a time to live is written with Redis's <c>PX</c> expiry, which reclaims it by the server's clock, and
/// with its expiry time on the store's <see cref="TimeProvider"/> in an 8-byte header before the value, so reads,
/// deletes and listings honour an injected clock exactly. Values are therefore not plain strings to other Redis clients.
/// </para>
/// <para>
/// Coalesce concurrent single calls into pipelined bulk calls by putting a <see cref="BatchingMemoryStore"/> in front.
/// Durability is the server's (its RDB/AOF settings); a call that returned was acknowledged by the server.
/// </para>
/// <para>
/// Telemetry: the <c>parallelexec.memory.*</c> instruments (a running call is in flight; the store holds no queue), a
/// span per bulk call; <see cref="GetStatistics"/> counts every key operated on.
/// </para>
/// </remarks>
[DebuggerDisplay("RedisMemoryStore {Name}")]
public sealed partial class RedisMemoryStore : IMemoryStore, IAsyncDisposable, IInstrumentedComponent
{
    // Reads the 8-byte expiry header of each key and deletes the keys in one atomic step; the caller decides which were
    // live by the store's clock (an expired entry is removed but does not count as deleted).
    private const string DeleteScript = """
        local headers = {}
        for i, key in ipairs(KEYS) do
          headers[i] = redis.call('GETRANGE', key, 0, 7)
          redis.call('DEL', key)
        end
        return headers
        """;

    private readonly RedisMemoryStoreOptions _options;
    private readonly RedisKeyLayout _layout;
    private readonly RedisConnectionSource _connection;
    private readonly ResiliencePipeline _pipeline;
    private readonly MemoryStoreTelemetry _telemetry;

    /// <summary>Initializes a new instance of the <see cref="RedisMemoryStore"/> class. Nothing is opened until first use.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public RedisMemoryStore(RedisMemoryStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        Name = _options.Name;
        _layout = new RedisKeyLayout(_options.KeyPrefix);
        _connection = _options.CreateConnection();
        _pipeline = _options.CreatePipeline(() => Interlocked.Increment(ref _retries));
        _telemetry = new MemoryStoreTelemetry(_options);
        _telemetry.Instruments.Live.Add(this);
    }

    /// <summary>Initializes a new instance of the <see cref="RedisMemoryStore"/> class on a server.</summary>
    /// <param name="configuration">The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="configuration"/> is empty.</exception>
    public RedisMemoryStore(string configuration)
        : this(new RedisMemoryStoreOptions { Configuration = configuration ?? throw new ArgumentNullException(nameof(configuration)) })
    {
    }

    /// <summary>Starts building a store that opens its own connection from <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>.</param>
    /// <returns>A single-use builder; <c>Build()</c> returns the store (nothing is opened until its first use).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static RedisMemoryStoreBuilder CreateBuilder(string configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new RedisMemoryStoreBuilder(new RedisMemoryStoreOptions { Configuration = configuration });
    }

    /// <summary>Starts building a store on a connection the application owns (never closed by the store).</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> is <see langword="null"/>.</exception>
    public static RedisMemoryStoreBuilder CreateBuilder(IConnectionMultiplexer connection)
    {
        ArgumentNullException.ThrowIfNull(connection);
        return new RedisMemoryStoreBuilder(new RedisMemoryStoreOptions { Connection = connection });
    }

    /// <summary>Gets the store's name (<see cref="ComponentOptions.Name"/>), the tag of its metrics and spans.</summary>
    public string Name { get; }

    /// <summary>Gets how many times the built-in retry has retried an operation that could not reach the server.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Gets how many commands the store has sent to the server (a pipelined bulk call counts each of its commands; a round trip may carry several).</summary>
    internal long CommandsSent => Interlocked.Read(ref _commands);

    /// <inheritdoc/>
    public ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        return RunAsync(MemoryOperation.Get, 1, bulk: false, static async (store, db, args, _) =>
        {
            store.Count(1);
            var stored = await db.StringGetAsync(store._layout.Key(store._layout.NamespacePrefix(args.namespaceName), args.key)).ConfigureAwait(false);
            var value = RedisKeyLayout.Decode(stored, store.Now(), out var _);
            store._telemetry.Lookups(value is null ? 0 : 1, value is null ? 1 : 0);
            return value;
        }, (namespaceName, key), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        return RunAsync(MemoryOperation.Get, list.Count, bulk: true, static async (store, db, args, _) =>
        {
            var found = new Dictionary<string, ReadOnlyMemory<byte>>(args.list.Count, StringComparer.Ordinal);
            if (args.list.Count == 0)
            {
                return (IReadOnlyDictionary<string, ReadOnlyMemory<byte>>)found;
            }

            var distinct = args.list.Distinct(StringComparer.Ordinal).ToArray();
            var prefix = store._layout.NamespacePrefix(args.namespaceName);
            var chunks = store.Chunks(distinct.Length);
            // Every MGET goes out before the first reply is awaited: one round trip however many chunks.
            var reads = new Task<RedisValue[]>[chunks];
            for (var c = 0; c < chunks; c++)
            {
                reads[c] = db.StringGetAsync(store.ChunkKeys(distinct, c, prefix));
            }

            store.Count(chunks);
            var now = store.Now();
            for (var c = 0; c < chunks; c++)
            {
                var values = await reads[c].ConfigureAwait(false);
                var offset = c * store._options.MaxKeysPerCommand;
                for (var i = 0; i < values.Length; i++)
                {
                    if (RedisKeyLayout.Decode(values[i], now, out var _) is { } value)
                    {
                        found[distinct[offset + i]] = value;
                    }
                }
            }

            var hits = args.list.Count(found.ContainsKey);
            store._telemetry.Lookups(hits, args.list.Count - hits);
            return found;
        }, (namespaceName, list), cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        await RunAsync(MemoryOperation.Set, 1, bulk: false, static async (store, db, args, _) =>
        {
            store.Count(1);
            var stored = RedisKeyLayout.Encode(args.value, store.ExpiresAt(args.timeToLive));
            await db.StringSetAsync(store._layout.Key(store._layout.NamespacePrefix(args.namespaceName), args.key), stored, Expiry(args.timeToLive), When.Always).ConfigureAwait(false);
            return true;
        }, (namespaceName, key, value, timeToLive), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        MemoryStoreArguments.CheckTimeToLive(timeToLive);
        var list = MemoryStoreArguments.Entries(entries);
        await RunAsync(MemoryOperation.Set, list.Count, bulk: true, static async (store, db, args, _) =>
        {
            if (args.list.Count == 0)
            {
                return true;
            }

            // The last value of a repeated key wins, as in a loop of single writes.
            var last = new Dictionary<string, ReadOnlyMemory<byte>>(args.list.Count, StringComparer.Ordinal);
            foreach (var entry in args.list)
            {
                last[entry.Key] = entry.Value;
            }

            var prefix = store._layout.NamespacePrefix(args.namespaceName);
            var expiresAt = store.ExpiresAt(args.timeToLive);
            var pairs = last.Select(e => new KeyValuePair<RedisKey, RedisValue>(store._layout.Key(prefix, e.Key), RedisKeyLayout.Encode(e.Value, expiresAt))).ToArray();
            var transaction = db.CreateTransaction();
            var queued = new List<Task>();
            if (args.timeToLive is null)
            {
                for (var offset = 0; offset < pairs.Length; offset += store._options.MaxKeysPerCommand)
                {
                    queued.Add(transaction.StringSetAsync(pairs.AsSpan(offset, Math.Min(store._options.MaxKeysPerCommand, pairs.Length - offset)).ToArray()));
                }
            }
            else
            {
                // MSET sets no expiry: one SET ... PX per key, all in the same MULTI/EXEC.
                var expiry = Expiry(args.timeToLive);
                foreach (var pair in pairs)
                {
                    queued.Add(transaction.StringSetAsync(pair.Key, pair.Value, expiry, When.Always));
                }
            }

            store.Count(queued.Count + 2);
            await store.ExecuteTransactionAsync(transaction, queued).ConfigureAwait(false);
            return true;
        }, (namespaceName, list, timeToLive), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default)
    {
        MemoryStoreArguments.Check(namespaceName, key);
        var deleted = await RunAsync(MemoryOperation.Remove, 1, bulk: false, static (store, db, args, _) =>
            store.DeleteAsync(db, args.namespaceName, [args.key]), (namespaceName, key), cancellationToken).ConfigureAwait(false);
        return deleted == 1;
    }

    /// <inheritdoc/>
    public ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        var list = MemoryStoreArguments.Keys(keys);
        return RunAsync(MemoryOperation.Remove, list.Count, bulk: true, static (store, db, args, _) =>
            args.list.Count == 0 ? Task.FromResult(0) : store.DeleteAsync(db, args.namespaceName, args.list.Distinct(StringComparer.Ordinal).ToArray()),
            (namespaceName, list), cancellationToken);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(namespaceName);
        ArgumentNullException.ThrowIfNull(prefix);
        return RunAsync(MemoryOperation.List, 0, bulk: true, static async (store, db, args, token) =>
        {
            var namespacePrefix = store._layout.NamespacePrefix(args.namespaceName);
            var glob = RedisKeyLayout.Glob(namespacePrefix, args.prefix);
            // SCAN may return a key twice; the set keeps one.
            var names = new HashSet<string>(StringComparer.Ordinal);
            RedisValue cursor = "0";
            do
            {
                token.ThrowIfCancellationRequested();
                store.Count(1);
                var step = await db.ExecuteAsync("SCAN", cursor, "MATCH", glob, "COUNT", store._options.MaxKeysPerCommand).ConfigureAwait(false);
                cursor = step[0].ToString();
                foreach (var name in (string[])step[1]!)
                {
                    names.Add(name);
                }
            }
            while (cursor != "0");

            // The expiry headers of every match, pipelined: one round trip.
            var keys = names.ToArray();
            var headers = new Task<RedisValue>[keys.Length];
            for (var i = 0; i < keys.Length; i++)
            {
                headers[i] = db.StringGetRangeAsync(keys[i], 0, RedisKeyLayout.HeaderSize - 1);
            }

            store.Count(keys.Length);
            var now = store.Now();
            var live = new List<string>(keys.Length);
            for (var i = 0; i < keys.Length; i++)
            {
                var header = await headers[i].ConfigureAwait(false);
                if (RedisKeyLayout.IsLive((byte[]?)header ?? [], now))
                {
                    live.Add(keys[i][namespacePrefix.Length..]);
                }
            }

            live.Sort(StringComparer.Ordinal);
            return (IReadOnlyList<string>)live;
        }, (namespaceName, prefix), cancellationToken);
    }

    private async Task<int> DeleteAsync(IDatabase db, string namespaceName, string[] keys)
    {
        var prefix = _layout.NamespacePrefix(namespaceName);
        var chunks = Chunks(keys.Length);
        RedisResult[] results;
        if (chunks == 1)
        {
            Count(1);
            results = [await db.ScriptEvaluateAsync(DeleteScript, ChunkKeys(keys, 0, prefix)).ConfigureAwait(false)];
        }
        else
        {
            // Several scripts in one MULTI/EXEC: still all or nothing, without one script holding the server for long.
            var transaction = db.CreateTransaction();
            var queued = new Task<RedisResult>[chunks];
            for (var c = 0; c < chunks; c++)
            {
                queued[c] = transaction.ScriptEvaluateAsync(DeleteScript, ChunkKeys(keys, c, prefix));
            }

            Count(chunks + 2);
            await ExecuteTransactionAsync(transaction, queued).ConfigureAwait(false);
            results = await Task.WhenAll(queued).ConfigureAwait(false);
        }

        var now = Now();
        int deleted = 0, expired = 0;
        foreach (var result in results)
        {
            foreach (var header in (RedisValue[])result!)
            {
                var bytes = (byte[]?)header ?? [];
                if (bytes.Length == 0)
                {
                    continue;
                }

                if (RedisKeyLayout.IsLive(bytes, now))
                {
                    deleted++;
                }
                else
                {
                    expired++;
                }
            }
        }

        _telemetry.Expired(expired);
        return deleted;
    }

    private int Chunks(int keys) => (keys + _options.MaxKeysPerCommand - 1) / _options.MaxKeysPerCommand;

    private RedisKey[] ChunkKeys(string[] keys, int chunk, string prefix)
    {
        var offset = chunk * _options.MaxKeysPerCommand;
        var names = new RedisKey[Math.Min(_options.MaxKeysPerCommand, keys.Length - offset)];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = _layout.Key(prefix, keys[offset + i]);
        }

        return names;
    }

    private long Now() => _options.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();

    private long ExpiresAt(TimeSpan? timeToLive)
    {
        if (timeToLive is not { } ttl)
        {
            return 0;
        }

        var now = Now();
        var milliseconds = (long)Math.Ceiling(ttl.TotalMilliseconds);
        return milliseconds >= long.MaxValue - now ? 0 : now + milliseconds;
    }

    /// <summary>The server-side expiry: whole milliseconds, rounded up, so Redis never reclaims an entry before the store's clock says it is dead.</summary>
    private static TimeSpan? Expiry(TimeSpan? timeToLive) =>
        timeToLive is { } ttl ? TimeSpan.FromMilliseconds(Math.Ceiling(ttl.TotalMilliseconds)) : null;
}
