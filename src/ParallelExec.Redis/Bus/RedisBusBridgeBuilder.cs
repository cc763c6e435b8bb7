using System.Text.Json;
using ParallelExec.Coordination;

namespace ParallelExec.Redis;

/// <summary>
/// Builds a <see cref="RedisBusBridge"/> on a local bus (<see cref="RedisBusBridge.CreateBuilder(CoordinationBus, string)"/>):
/// channel names, the durable subscriber name, stream length, request timeout and payload format, besides the database
/// and retry every Redis builder has. Single use.
/// </summary>
public sealed class RedisBusBridgeBuilder : RedisComponentBuilder<RedisBusBridgeBuilder, RedisBusBridgeOptions, RedisBusBridge>
{
    private readonly CoordinationBus _bus;

    internal RedisBusBridgeBuilder(CoordinationBus bus, RedisBusBridgeOptions options)
        : base(options) => _bus = bus;

    /// <summary>Sets the prefix of every channel and stream key (<see cref="RedisBusBridgeOptions.ChannelPrefix"/>).</summary>
    /// <param name="channelPrefix">The prefix; may be empty.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithChannelPrefix(string channelPrefix) => Set(o => o.ChannelPrefix = channelPrefix);

    /// <summary>Sets this process's durable name for stream imports (<see cref="RedisBusBridgeOptions.SubscriberName"/>).</summary>
    /// <param name="subscriberName">The name; not empty.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithSubscriberName(string subscriberName) => Set(o => o.SubscriberName = subscriberName);

    /// <summary>Sets how many messages a topic's stream keeps (<see cref="RedisBusBridgeOptions.StreamMaxLength"/>).</summary>
    /// <param name="streamMaxLength">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithStreamMaxLength(int streamMaxLength) => Set(o => o.StreamMaxLength = streamMaxLength);

    /// <summary>Sets how long a request waits for its reply when the call names no timeout (<see cref="RedisBusBridgeOptions.RequestTimeout"/>).</summary>
    /// <param name="requestTimeout">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithRequestTimeout(TimeSpan requestTimeout) => Set(o => o.RequestTimeout = requestTimeout);

    /// <summary>Sets how long a stream import waits before reading again when its stream had nothing new (<see cref="RedisBusBridgeOptions.PollInterval"/>).</summary>
    /// <param name="pollInterval">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithPollInterval(TimeSpan pollInterval) => Set(o => o.PollInterval = pollInterval);

    /// <summary>Sets the serializer options of the payloads (<see cref="RedisBusBridgeOptions.SerializerOptions"/>), the same in every process.</summary>
    /// <param name="serializerOptions">The options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its bridge.</exception>
    public RedisBusBridgeBuilder WithSerializerOptions(JsonSerializerOptions serializerOptions) => Set(o => o.SerializerOptions = serializerOptions);

    /// <inheritdoc/>
    protected override RedisBusBridge Create(RedisBusBridgeOptions options) => new(_bus, options);
}
