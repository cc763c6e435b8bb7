using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ParallelExec.Coordination;
using ParallelExec.Internal;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>Request/reply across processes: requests on a per-topic channel, replies on a per-bridge channel.</summary>
public sealed partial class RedisBusBridge
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<BusFrame>> _pending = new();
    private readonly SemaphoreSlim _replyChannelOpening = new(1, 1);
    private volatile bool _replyChannelOpen;
    private long _nextCorrelation;

    private string ReplyChannel => _options.ChannelPrefix + "reply:" + _origin.ToString("N");

    /// <summary>
    /// Answers requests other processes send on <paramref name="topic"/> with
    /// <see cref="RequestAsync{TRequest, TReply}"/>: each is asked of the local bus (its responders, with
    /// <see cref="CoordinationBus.RequestAsync{TRequest, TReply}"/> and the requester's remaining timeout) and the reply
    /// or the failure goes back to the requester. Requests are handled concurrently.
    /// </summary>
    /// <typeparam name="TRequest">The request type.</typeparam>
    /// <typeparam name="TReply">The reply type.</typeparam>
    /// <param name="topic">The topic (not a pattern). Serve each topic from one process: every server answers, the requester keeps the first reply.</param>
    /// <param name="cancellationToken">Cancels the subscription attempt.</param>
    /// <returns>A task that completes once the bridge listens.</returns>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="ObjectDisposedException">The bridge has been disposed.</exception>
    public async Task ServeRequestsAsync<TRequest, TReply>(string topic, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ObjectDisposedException.ThrowIf(_disposeStarted != 0, this);
        var connection = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        var requestInfo = RedisJson.TypeInfo<TRequest>(_options.SerializerOptions);
        var replyInfo = RedisJson.TypeInfo<TReply>(_options.SerializerOptions);
        var channel = await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(_options.ChannelPrefix + "request:" + topic)).ConfigureAwait(false);
        lock (_subscriptions)
        {
            _channels.Add(channel);
        }

        channel.OnMessage(message =>
        {
            Track(ServeAsync(connection, topic, (byte[])message.Message!, requestInfo, replyInfo));
            return Task.CompletedTask;
        });
    }

    /// <summary>Sends a request to the process that serves <paramref name="topic"/> and waits for its reply.</summary>
    /// <typeparam name="TRequest">The request type.</typeparam>
    /// <typeparam name="TReply">The reply type.</typeparam>
    /// <param name="topic">The topic.</param>
    /// <param name="request">The request.</param>
    /// <param name="timeout">How long to wait for the reply; <see langword="null"/> for <see cref="RedisBusBridgeOptions.RequestTimeout"/>. The serving process gets the remaining time as its own timeout.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The reply.</returns>
    /// <exception cref="ArgumentException"><paramref name="topic"/> is <see langword="null"/> or empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is zero or negative.</exception>
    /// <exception cref="NoResponderException">No process serves the topic, or the serving process's bus has no responder for it.</exception>
    /// <exception cref="TimeoutException">No reply came within the timeout.</exception>
    /// <exception cref="RedisBusRequestException">The serving process's responder failed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The bridge has been disposed.</exception>
    public async Task<TReply> RequestAsync<TRequest, TReply>(string topic, TRequest request, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        if (timeout is { } t && t <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), t, "The timeout must be greater than zero, or null for RequestTimeout.");
        }

        ObjectDisposedException.ThrowIf(_disposeStarted != 0, this);
        var wait = timeout ?? _options.RequestTimeout;
        var connection = await _connection.GetAsync(cancellationToken).ConfigureAwait(false);
        await OpenReplyChannelAsync(connection).ConfigureAwait(false);
        using var span = Telemetry.StartSpan(PublishSpan, Name, kind: ActivityKind.Client);
        span?.SetTag(TelemetryTagNames.Topic, topic);
        var correlation = Interlocked.Increment(ref _nextCorrelation);
        var reply = new TaskCompletionSource<BusFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[correlation] = reply;
        try
        {
            var traceParent = TraceParent.Current(out var traceState);
            var frame = new BusFrame
            {
                Origin = _origin,
                TraceParent = traceParent,
                TraceState = traceState,
                Correlation = correlation,
                ReplyTo = ReplyChannel,
                TimeoutMilliseconds = (long)Math.Ceiling(wait.TotalMilliseconds),
                Payload = JsonSerializer.SerializeToUtf8Bytes(request, RedisJson.TypeInfo<TRequest>(_options.SerializerOptions)),
            };
            var bytes = frame.Write();
            var receivers = await _pipeline.ExecuteAsync(
                async _ => await connection.GetSubscriber().PublishAsync(RedisChannel.Literal(_options.ChannelPrefix + "request:" + topic), bytes).ConfigureAwait(false),
                cancellationToken).ConfigureAwait(false);
            if (receivers == 0)
            {
                throw new NoResponderException(topic, $"No process serves requests on topic '{topic}' (nobody subscribed to its request channel).");
            }

            BusFrame answer;
            try
            {
                answer = await reply.Task.WaitAsync(wait, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"No reply to the request on topic '{topic}' within {wait}.");
            }

            if (answer.Error is { } error)
            {
                var separator = error.IndexOf(':', StringComparison.Ordinal);
                var type = separator < 0 ? error : error[..separator];
                var text = separator < 0 ? error : error[(separator + 1)..].Trim();
                throw type switch
                {
                    nameof(NoResponderException) => new NoResponderException(topic, text),
                    // The serving process ran out of the requester's own timeout first.
                    nameof(TimeoutException) => new TimeoutException($"No reply to the request on topic '{topic}' within {wait}: {text}"),
                    _ => new RedisBusRequestException(topic, type, text),
                };
            }

            return JsonSerializer.Deserialize(answer.Payload.Span, RedisJson.TypeInfo<TReply>(_options.SerializerOptions))!;
        }
        catch (Exception ex)
        {
            Telemetry.RecordFailure(span, ex);
            throw;
        }
        finally
        {
            _pending.TryRemove(correlation, out _);
        }
    }

    private async Task OpenReplyChannelAsync(IConnectionMultiplexer connection)
    {
        if (_replyChannelOpen)
        {
            return;
        }

        await _replyChannelOpening.WaitAsync().ConfigureAwait(false);
        try
        {
            if (!_replyChannelOpen)
            {
                var channel = await connection.GetSubscriber().SubscribeAsync(RedisChannel.Literal(ReplyChannel)).ConfigureAwait(false);
                lock (_subscriptions)
                {
                    _channels.Add(channel);
                }

                channel.OnMessage(message =>
                {
                    var frame = BusFrame.Read((byte[])message.Message!);
                    if (_pending.TryGetValue(frame.Correlation, out var waiting))
                    {
                        waiting.TrySetResult(frame);
                    }
                });
                _replyChannelOpen = true;
            }
        }
        finally
        {
            _replyChannelOpening.Release();
        }
    }

    private async Task ServeAsync<TRequest, TReply>(IConnectionMultiplexer connection, string topic, byte[] bytes, JsonTypeInfo<TRequest> requestInfo, JsonTypeInfo<TReply> replyInfo)
    {
        BusFrame frame;
        try
        {
            frame = BusFrame.Read(bytes);
        }
        catch (FormatException ex)
        {
            Interlocked.Increment(ref _failed);
            Telemetry.RecordFailure(Activity.Current, ex);
            return;
        }

        using var span = Telemetry.StartSpan(ReceiveSpan, Name, TraceParent.Parse(frame.TraceParent, frame.TraceState), ActivityKind.Server);
        span?.SetTag(TelemetryTagNames.Topic, topic);
        BusFrame answer;
        try
        {
            var request = JsonSerializer.Deserialize(frame.Payload.Span, requestInfo)!;
            var timeout = TimeSpan.FromMilliseconds(Math.Max(1, frame.TimeoutMilliseconds));
            var reply = await _bus.RequestAsync<TRequest, TReply>(topic, request, timeout, _stop.Token).ConfigureAwait(false);
            answer = new BusFrame { Origin = _origin, Correlation = frame.Correlation, Payload = JsonSerializer.SerializeToUtf8Bytes(reply, replyInfo) };
            Interlocked.Increment(ref _imported);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failed);
            Telemetry.RecordFailure(span, ex);
            answer = new BusFrame { Origin = _origin, Correlation = frame.Correlation, Error = ex.GetType().Name + ": " + ex.Message };
        }

        if (frame.ReplyTo is { } replyTo)
        {
            try
            {
                await connection.GetSubscriber().PublishAsync(RedisChannel.Literal(replyTo), answer.Write()).ConfigureAwait(false);
            }
            catch (Exception ex) when (RedisRetry.IsTransient(ex))
            {
                // The requester times out: its caller learns of it there.
                Interlocked.Increment(ref _failed);
                Telemetry.RecordFailure(span, ex);
            }
        }
    }
}
