using System.Text.Json;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// Options of <see cref="RedisBusBridge"/>: the shared <see cref="ComponentOptions"/> plus the server, the channel and
/// stream names, the durable subscriber name of stream imports and the request timeout; validated and copied.
/// </summary>
public sealed class RedisBusBridgeOptions : RedisComponentOptions
{

    /// <summary>Gets or sets the prefix of every channel and stream key: a topic <c>t</c> travels on channel <c>&lt;prefix&gt;t</c>, stream <c>&lt;prefix&gt;stream:t</c>, requests on <c>&lt;prefix&gt;request:t</c>.</summary>
    /// <value>The default is <c>parallelexec:bus:</c>; must not be <see langword="null"/>.</value>
    public string ChannelPrefix { get; set; } = "parallelexec:bus:";

    /// <summary>
    /// Gets or sets this process's durable name for stream imports: the consumer group that remembers what it has
    /// received. Give the same name after a restart to get what was published meanwhile; two processes with the same
    /// name share the messages between them instead of each getting all.
    /// </summary>
    /// <value>The default is <see langword="null"/>; required for <see cref="RedisBusDelivery.Streams"/> imports.</value>
    public string? SubscriberName { get; set; }

    /// <summary>Gets or sets how many messages a topic's stream keeps (approximate trimming on each publish).</summary>
    /// <value>The default is 10,000; must be greater than zero.</value>
    public int StreamMaxLength { get; set; } = 10_000;

    /// <summary>Gets or sets how long a stream import waits before reading again when its stream had nothing new.</summary>
    /// <value>The default is 50 milliseconds; must be greater than zero.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Gets or sets how long <see cref="RedisBusBridge.RequestAsync{TRequest, TReply}"/> waits for a reply when the call names no timeout.</summary>
    /// <value>The default is 30 seconds; must be greater than zero.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the serializer options of the payloads (a source-generated context's options for trimming and native AOT).</summary>
    /// <value>The default is <see langword="null"/>: <see cref="JsonSerializerOptions.Default"/>.</value>
    public JsonSerializerOptions? SerializerOptions { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "RedisBusBridge";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(ChannelPrefix is not null, nameof(ChannelPrefix), ChannelPrefix, "must not be null")
            .Require(SubscriberName is null || SubscriberName.Length > 0, nameof(SubscriberName), SubscriberName, "must be null or not empty")
            .RequirePositive(StreamMaxLength, nameof(StreamMaxLength))
            .RequirePositive(PollInterval, nameof(PollInterval))
            .RequirePositive(RequestTimeout, nameof(RequestTimeout))
            // Both run on timers: longer spans would fail in an import's loop or a request instead of here.
            .RequireTimerRange(PollInterval, nameof(PollInterval))
            .RequireTimerRange(RequestTimeout, nameof(RequestTimeout));
    }

    internal RedisBusBridgeOptions Clone() => (RedisBusBridgeOptions)MemberwiseClone();
}
