using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// The producer side of a distributed work queue on a Redis stream: any process enqueues items with an id; consumers
/// (<see cref="RedisQueueConsumer{T}"/>) in any process run them. Each item carries its producer's trace context.
/// </summary>
/// <typeparam name="T">The payload type, written as JSON.</typeparam>
/// <remarks>
/// An enqueue that returned is in the stream (as durable as the server's persistence settings make it). One that
/// failed after the retry may or may not be there; enqueueing it again under the same id is safe, because consumers
/// deduplicate by id (see <see cref="RedisWorkItem{T}"/>).
/// </remarks>
public sealed class RedisWorkQueue<T> : IAsyncDisposable
{
    private readonly RedisWorkQueueOptions _options;
    private readonly RedisConnectionSource _connection;
    private readonly ResiliencePipeline _pipeline;
    private readonly JsonTypeInfo<T> _typeInfo;
    private long _enqueued;
    private volatile bool _disposed;

    /// <summary>Initializes a new instance of the <see cref="RedisWorkQueue{T}"/> class. Nothing is opened until first use.</summary>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public RedisWorkQueue(RedisWorkQueueOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        _options.Validate();
        Name = _options.Name;
        _connection = _options.CreateConnection();
        _pipeline = _options.CreatePipeline();
        _typeInfo = RedisJson.TypeInfo<T>(_options.SerializerOptions);
    }

    /// <summary>Starts building a producer that opens its own connection from <paramref name="configuration"/>.</summary>
    /// <param name="configuration">The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>.</param>
    /// <param name="streamKey">The key of the stream that holds the queued items.</param>
    /// <returns>A single-use builder; <c>Build()</c> returns the queue (nothing is opened until its first use).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="configuration"/> or <paramref name="streamKey"/> is <see langword="null"/>.</exception>
    public static RedisWorkQueueBuilder<T> CreateBuilder(string configuration, string streamKey)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(streamKey);
        return new RedisWorkQueueBuilder<T>(new RedisWorkQueueOptions { Configuration = configuration, StreamKey = streamKey });
    }

    /// <summary>Starts building a producer on a connection the application owns (never closed by the queue).</summary>
    /// <param name="connection">The connection.</param>
    /// <param name="streamKey">The key of the stream that holds the queued items.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="connection"/> or <paramref name="streamKey"/> is <see langword="null"/>.</exception>
    public static RedisWorkQueueBuilder<T> CreateBuilder(IConnectionMultiplexer connection, string streamKey)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(streamKey);
        return new RedisWorkQueueBuilder<T>(new RedisWorkQueueOptions { Connection = connection, StreamKey = streamKey });
    }

    /// <summary>Gets the queue's name (<see cref="ComponentOptions.Name"/>).</summary>
    public string Name { get; }

    /// <summary>Gets how many items this producer has enqueued.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued);

    /// <summary>Adds an item to the queue.</summary>
    /// <param name="id">The item's id, its idempotency key; not empty.</param>
    /// <param name="item">The payload.</param>
    /// <param name="cancellationToken">Cancels the call before it is sent.</param>
    /// <returns>The id of the stream entry.</returns>
    /// <exception cref="ArgumentException"><paramref name="id"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="RedisConnectionException">The server could not be reached, retries included.</exception>
    /// <exception cref="ObjectDisposedException">The queue has been disposed.</exception>
    public async ValueTask<string> EnqueueAsync(string id, T item, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(id);
        var fields = Fields(id, item);
        var entry = await RunAsync(static (db, args) => db.StreamAddAsync(args.key, args.fields), (key: (RedisKey)_options.StreamKey, fields), cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _enqueued);
        return entry.ToString();
    }

    /// <summary>Adds several items in one round trip (the <c>XADD</c>s are pipelined).</summary>
    /// <param name="items">The items by id; no id may be <see langword="null"/> or empty.</param>
    /// <param name="cancellationToken">Cancels the call before it is sent.</param>
    /// <returns>How many items were enqueued.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="items"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An id is <see langword="null"/> or empty.</exception>
    /// <exception cref="RedisConnectionException">The server could not be reached, retries included; some items may have been added (enqueue them again: ids deduplicate).</exception>
    /// <exception cref="ObjectDisposedException">The queue has been disposed.</exception>
    public async ValueTask<int> EnqueueManyAsync(IEnumerable<KeyValuePair<string, T>> items, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        var all = new List<NameValueEntry[]>();
        foreach (var (id, item) in items)
        {
            if (string.IsNullOrEmpty(id))
            {
                throw new ArgumentException($"Every item id must be a non-empty string; found {(id is null ? "null" : "an empty string")} at index {all.Count}.", nameof(items));
            }

            all.Add(Fields(id, item));
        }

        await RunAsync(static async (db, args) =>
        {
            var adds = new Task<RedisValue>[args.all.Count];
            for (var i = 0; i < adds.Length; i++)
            {
                adds[i] = db.StreamAddAsync(args.key, args.all[i]);
            }

            await Task.WhenAll(adds).ConfigureAwait(false);
            return RedisValue.Null;
        }, (key: (RedisKey)_options.StreamKey, all), cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _enqueued, all.Count);
        return all.Count;
    }

    /// <summary>Closes the connection the queue opened (one passed in is left open). Idempotent.</summary>
    /// <returns>A task that completes when the connection is closed.</returns>
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return _connection.DisposeAsync();
    }

    private NameValueEntry[] Fields(string id, T item)
    {
        var traceParent = TraceParent.Current(out var traceState);
        var data = JsonSerializer.SerializeToUtf8Bytes(item, _typeInfo);
        return traceParent is null
            ? [new(RedisStreamFields.Id, id), new(RedisStreamFields.Data, data)]
            : [new(RedisStreamFields.Id, id), new(RedisStreamFields.Data, data), new(RedisStreamFields.TraceParent, traceParent), new(RedisStreamFields.TraceState, traceState ?? "")];
    }

    private async ValueTask<RedisValue> RunAsync<TArgs>(Func<IDatabase, TArgs, Task<RedisValue>> run, TArgs args, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        return await _pipeline.ExecuteAsync(
            static async (context, token) =>
            {
                var connection = await context.Queue._connection.GetAsync(token).ConfigureAwait(false);
                token.ThrowIfCancellationRequested();
                return await context.Run(connection.GetDatabase(context.Queue._options.Database), context.Args).ConfigureAwait(false);
            },
            (Queue: this, Run: run, Args: args),
            cancellationToken).ConfigureAwait(false);
    }
}
