using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ParallelExec.Coordination;
using ParallelExec.Internal;
using StackExchange.Redis;

namespace ParallelExec.Redis;

// Locking: none around I/O. _echoes counts imported payloads a local export subscription will see and must not send
// back (a concurrent dictionary); _tasks tracks running stream loops and request handlers for disposal.

/// <summary>
/// Carries chosen topics of a <see cref="CoordinationBus"/> between processes through Redis: <see cref="ExportAsync{T}"/>
/// sends what is published locally on a topic pattern, <see cref="ImportAsync{T}"/> publishes on the local bus what
/// other processes sent on a topic, <see cref="ServeRequestsAsync{TRequest, TReply}"/> and
/// <see cref="RequestAsync{TRequest, TReply}"/> make request/reply cross processes. Every message carries the
/// publisher's W3C trace context, so a delivery in another process continues the publisher's trace.
/// </summary>
/// <remarks>
/// <para>
/// Guarantees depend on the <see cref="RedisBusDelivery"/>: Pub/Sub is at most once (only processes subscribed at the
/// moment hear a message); Streams are at least once per <see cref="RedisBusBridgeOptions.SubscriberName"/> (a
/// restarted subscriber gets what it missed). Either way, "delivered" means published on the receiving process's bus;
/// what its subscribers do then is that bus's business (its queues, dead letters and statistics).
/// </para>
/// <para>
/// The bridge uses the bus's public API only: an export is a subscription on the local bus, an import a publisher on it.
/// A process that both exports and imports a topic does not send imported messages back, nor hear its own exports.
/// Payloads are JSON (<see cref="RedisBusBridgeOptions.SerializerOptions"/>).
/// </para>
/// </remarks>
public sealed partial class RedisBusBridge : IAsyncDisposable
{
    private const string PublishSpan = "parallelexec.redis.publish";
    private const string ReceiveSpan = "parallelexec.redis.receive";

    private readonly CoordinationBus _bus;
    private readonly RedisBusBridgeOptions _options;
    private readonly RedisConnectionSource _connection;
    private readonly Polly.ResiliencePipeline _pipeline;
    private readonly Guid _origin = Guid.NewGuid();
    private readonly ConcurrentDictionary<string, int> _echoes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _importedTopics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _tasks = new();
    private readonly List<IDisposable> _subscriptions = [];
    private readonly List<TopicPattern> _exportPatterns = [];
    private readonly List<ChannelMessageQueue> _channels = [];
    private readonly CancellationTokenSource _stop = new();
    private long _exported;
    private long _imported;
    private long _failed;
    private int _disposeStarted;
    private Task? _disposal;

    /// <summary>Initializes a new instance of the <see cref="RedisBusBridge"/> class on <paramref name="bus"/>. Nothing is opened until first use.</summary>
    /// <param name="bus">The local bus; not disposed by the bridge.</param>
    /// <param name="options">The options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="bus"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public RedisBusBridge(CoordinationBus bus, RedisBusBridgeOptions options)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(options);
        _bus = bus;
        _options = options.Clone();
        _options.Validate();
        Name = _options.Name;
        _connection = _options.CreateConnection();
        _pipeline = _options.CreatePipeline();
    }

    /// <summary>Starts building a bridge on <paramref name="bus"/> that opens its own connection from <paramref name="configuration"/>.</summary>
    /// <param name="bus">The local bus; not disposed by the bridge.</param>
    /// <param name="configuration">The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>.</param>
    /// <returns>A single-use builder; <c>Build()</c> returns the bridge (nothing is opened until its first use).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="bus"/> or <paramref name="configuration"/> is <see langword="null"/>.</exception>
    public static RedisBusBridgeBuilder CreateBuilder(CoordinationBus bus, string configuration)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(configuration);
        return new RedisBusBridgeBuilder(bus, new RedisBusBridgeOptions { Configuration = configuration });
    }

    /// <summary>Starts building a bridge on <paramref name="bus"/> over a connection the application owns (never closed by the bridge).</summary>
    /// <param name="bus">The local bus; not disposed by the bridge.</param>
    /// <param name="connection">The connection.</param>
    /// <returns>A single-use builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="bus"/> or <paramref name="connection"/> is <see langword="null"/>.</exception>
    public static RedisBusBridgeBuilder CreateBuilder(CoordinationBus bus, IConnectionMultiplexer connection)
    {
        ArgumentNullException.ThrowIfNull(bus);
        ArgumentNullException.ThrowIfNull(connection);
        return new RedisBusBridgeBuilder(bus, new RedisBusBridgeOptions { Connection = connection });
    }

    /// <summary>Gets the bridge's name (<see cref="ComponentOptions.Name"/>), the tag of its spans.</summary>
    public string Name { get; }

    /// <summary>Gets how many local messages the bridge has sent to Redis.</summary>
    public long Exported => Interlocked.Read(ref _exported);

    /// <summary>Gets how many messages from other processes the bridge has published on the local bus.</summary>
    public long Imported => Interlocked.Read(ref _imported);

    /// <summary>Gets how many messages the bridge could not send, read or publish (each is also recorded on its span).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>
    /// Sends every message published on the local bus on a topic matching <paramref name="pattern"/> to the other
    /// processes. Opens the connection, so a wrong server fails here.
    /// </summary>
    /// <typeparam name="T">The message type; messages of other types on the same topics are not sent.</typeparam>
    /// <param name="pattern">A topic or pattern of the local bus.</param>
    /// <param name="delivery">Pub/Sub (at most once) or Streams (at least once).</param>
    /// <param name="cancellationToken">Cancels the connection attempt.</param>
    /// <returns>A task that completes once the export is in place.</returns>
    /// <exception cref="ArgumentException"><paramref name="pattern"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="ObjectDisposedException">The bridge has been disposed.</exception>
    public async Task ExportAsync<T>(string pattern, RedisBusDelivery delivery = RedisBusDelivery.PubSub, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(pattern);
        ObjectDisposedException.ThrowIf(_disposeStarted != 0, this);
        var connection = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        var typeInfo = RedisJson.TypeInfo<T>(_options.SerializerOptions);
        var parsed = TopicPattern.Parse(pattern);
        var subscription = _bus.Subscribe<T>(pattern, (message, _) => SendAsync(connection, message, typeInfo, delivery), new SubscriptionOptions { Name = Name + ".export:" + pattern });
        lock (_subscriptions)
        {
            _subscriptions.Add(subscription);
            _exportPatterns.Add(parsed);
        }
    }

    /// <summary>
    /// Publishes on the local bus, on topic <paramref name="topic"/>, what other processes export on it. Pub/Sub imports
    /// hear messages from the moment this call returns; Streams imports also get what was published since the first
    /// import under the same <see cref="RedisBusBridgeOptions.SubscriberName"/>.
    /// </summary>
    /// <typeparam name="T">The message type.</typeparam>
    /// <param name="topic">The topic (not a pattern).</param>
    /// <param name="delivery">Pub/Sub (at most once) or Streams (at least once).</param>
    /// <param name="cancellationToken">Cancels the subscription attempt.</param>
    /// <returns>A task that completes once the import listens.</returns>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="InvalidOperationException">A Streams import and no <see cref="RedisBusBridgeOptions.SubscriberName"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bridge has been disposed.</exception>
    public async Task ImportAsync<T>(string topic, RedisBusDelivery delivery = RedisBusDelivery.PubSub, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ObjectDisposedException.ThrowIf(_disposeStarted != 0, this);
        if (delivery == RedisBusDelivery.Streams && _options.SubscriberName is null)
        {
            throw new InvalidOperationException($"A Streams import of topic '{topic}' needs RedisBusBridgeOptions.SubscriberName: the durable name under which the server remembers what this subscriber has received.");
        }

        var connection = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        var typeInfo = RedisJson.TypeInfo<T>(_options.SerializerOptions);
        _importedTopics[topic] = true;
        if (delivery == RedisBusDelivery.Streams)
        {
            await StartStreamImportAsync(connection, topic, typeInfo).ConfigureAwait(false);
            return;
        }

        var channel = await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(_options.ChannelPrefix + topic)).ConfigureAwait(false);
        lock (_subscriptions)
        {
            _channels.Add(channel);
        }

        // One message at a time, in the order published: the local bus sees them in that order.
        channel.OnMessage(message => ReceiveAsync(topic, (byte[])message.Message!, typeInfo).AsTask());
    }

    /// <summary>Stops the exports and imports and closes the connection it opened; the bus is left running. Idempotent.</summary>
    /// <returns>A task that completes when the bridge has stopped.</returns>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeStarted, 1) == 0)
        {
            _disposal = DisposeCoreAsync();
        }

        return new ValueTask(_disposal!);
    }

    private async Task DisposeCoreAsync()
    {
        _stop.Cancel();
        lock (_subscriptions)
        {
            foreach (var subscription in _subscriptions)
            {
                subscription.Dispose();
            }
        }

        foreach (var channel in _channels)
        {
            await channel.UnsubscribeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_tasks.Keys).ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
    }

    private void Track(Task task)
    {
        _tasks[task] = true;
        task.ContinueWith(static (done, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(done, out _), _tasks, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async ValueTask SendAsync<T>(IConnectionMultiplexer connection, BusMessage<T> message, JsonTypeInfo<T> typeInfo, RedisBusDelivery delivery)
    {
        var payload = JsonSerializer.SerializeToUtf8Bytes(message.Message, typeInfo);
        if (_importedTopics.ContainsKey(message.Topic) && TakeEcho(message.Topic, payload))
        {
            // This process imported the message from another one: it is not sent back.
            return;
        }

        using var span = Telemetry.StartSpan(PublishSpan, Name, kind: ActivityKind.Producer);
        span?.SetTag(TelemetryTagNames.Topic, message.Topic);
        var traceParent = TraceParent.Current(out var traceState);
        var frame = new BusFrame { Origin = _origin, TraceParent = traceParent, TraceState = traceState, Payload = payload }.Write();
        try
        {
            await _pipeline.ExecuteAsync(
                async _ =>
                {
                    if (delivery == RedisBusDelivery.Streams)
                    {
                        await connection.GetDatabase(_options.Database).StreamAddAsync(
                            StreamKey(message.Topic), RedisStreamFields.Data, frame, maxLength: _options.StreamMaxLength, useApproximateMaxLength: true).ConfigureAwait(false);
                    }
                    else
                    {
                        await connection.GetSubscriber().PublishAsync(RedisChannel.Literal(_options.ChannelPrefix + message.Topic), frame).ConfigureAwait(false);
                    }
                },
                CancellationToken.None).ConfigureAwait(false);
            Interlocked.Increment(ref _exported);
        }
        catch (Exception ex)
        {
            // The bus records the handler's failure as a dead letter of the export subscription; count it here too.
            Interlocked.Increment(ref _failed);
            Telemetry.RecordFailure(span, ex);
            throw;
        }
    }

    /// <summary>Publishes one message from another process on the local bus, under a span that continues the publisher's trace.</summary>
    private async ValueTask ReceiveAsync<T>(string topic, byte[] bytes, JsonTypeInfo<T> typeInfo)
    {
        Activity? span = null;
        try
        {
            var frame = BusFrame.Read(bytes);
            if (frame.Origin == _origin)
            {
                // Our own export: the local subscribers already had it from the local bus.
                return;
            }

            var message = JsonSerializer.Deserialize(frame.Payload.Span, typeInfo)!;
            span = Telemetry.StartSpan(ReceiveSpan, Name, TraceParent.Parse(frame.TraceParent, frame.TraceState), ActivityKind.Consumer);
            span?.SetTag(TelemetryTagNames.Topic, topic);
            AddEcho(topic, frame.Payload.Span);
            await _bus.PublishAsync(topic, message).ConfigureAwait(false);
            Interlocked.Increment(ref _imported);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            Telemetry.RecordFailure(span ?? Activity.Current, ex);
            if (ex is not (JsonException or FormatException))
            {
                throw;
            }
        }
        finally
        {
            span?.Dispose();
        }
    }

    private RedisKey StreamKey(string topic) => _options.ChannelPrefix + "stream:" + topic;

    private static string EchoKey(string topic, ReadOnlySpan<byte> payload) => topic + "\n" + Convert.ToBase64String(payload);

    private void AddEcho(string topic, ReadOnlySpan<byte> payload)
    {
        if (IsExported(topic))
        {
            _echoes.AddOrUpdate(EchoKey(topic, payload), 1, static (_, count) => count + 1);
        }
    }

    private bool TakeEcho(string topic, byte[] payload)
    {
        var key = EchoKey(topic, payload);
        while (_echoes.TryGetValue(key, out var count))
        {
            if (count == 1 ? _echoes.TryRemove(new KeyValuePair<string, int>(key, 1)) : _echoes.TryUpdate(key, count - 1, count))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a local export subscription will see a message on <paramref name="topic"/> (and must not send it back).</summary>
    private bool IsExported(string topic)
    {
        lock (_subscriptions)
        {
            return _exportPatterns.Exists(pattern => pattern.IsMatch(topic));
        }
    }
}
