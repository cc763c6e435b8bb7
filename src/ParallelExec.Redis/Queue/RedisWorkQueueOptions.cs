using System.Text.Json;
using Polly;
using StackExchange.Redis;

namespace ParallelExec.Redis;

/// <summary>
/// Options of a distributed work queue on a Redis stream: of the producer (<see cref="RedisWorkQueue{T}"/>) and of a
/// consumer (<see cref="RedisQueueConsumer{T}"/>), which share the server, the stream and the payload format; the
/// consumer also reads its concurrency, reclaim and dead-letter settings. Validated and copied on creation.
/// </summary>
public sealed class RedisWorkQueueOptions : RedisComponentOptions
{

    /// <summary>Gets or sets the key of the stream that holds the queued items.</summary>
    /// <value>The default is <see langword="null"/>; must be set.</value>
    public string? StreamKey { get; set; }

    /// <summary>Gets or sets the consumer group every consumer of the queue joins (created at the start of the stream on first use, so items enqueued before any consumer ran are processed).</summary>
    /// <value>The default is <c>workers</c>.</value>
    public string GroupName { get; set; } = "workers";

    /// <summary>Gets or sets this consumer's name in the group; must be unique among the live consumers.</summary>
    /// <value>The default is <see langword="null"/>: the machine name, the process id and a random suffix.</value>
    public string? ConsumerName { get; set; }

    /// <summary>Gets or sets how many items a consumer runs at once, on its <see cref="Workers.WorkerPool"/>; it takes no more from the stream than it has room to run.</summary>
    /// <value>The default is 4; must be greater than zero.</value>
    public int MaxDegreeOfParallelism { get; set; } = 4;

    /// <summary>
    /// Gets or sets how long an item may stay delivered and unacknowledged before any consumer takes it over
    /// (<c>XAUTOCLAIM</c>): the time after which a consumer that died, or a handler that failed, is given up on. Longer
    /// than the slowest handler run, or a slow item is run twice.
    /// </summary>
    /// <value>The default is 30 seconds; must be greater than zero.</value>
    public TimeSpan ClaimIdleTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long a consumer waits before reading again when the stream had nothing for it.</summary>
    /// <value>The default is 50 milliseconds; must be greater than zero.</value>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Gets or sets how many times an item is delivered (to any consumer) before it goes to the dead-letter stream
    /// instead of a handler: a handler that keeps failing, or an item that kills its consumers, stops there.
    /// </summary>
    /// <value>The default is 5; must be greater than zero.</value>
    public int MaxDeliveries { get; set; } = 5;

    /// <summary>Gets or sets the key of the dead-letter stream.</summary>
    /// <value>The default is <see langword="null"/>: <see cref="StreamKey"/> followed by <c>:dead</c>; must not be empty.</value>
    public string? DeadLetterStreamKey { get; set; }

    /// <summary>Gets or sets the serializer options of the payloads (a source-generated context's options for trimming and native AOT).</summary>
    /// <value>The default is <see langword="null"/>: <see cref="JsonSerializerOptions.Default"/>.</value>
    public JsonSerializerOptions? SerializerOptions { get; set; }

    /// <summary>Gets or sets the consumer's callback for a handler that failed (the item stays pending and is delivered again after <see cref="ClaimIdleTime"/>). Runs outside any lock; its exceptions are ignored.</summary>
    /// <value>The default is <see langword="null"/>: the failure is still counted and recorded on the item's span.</value>
    public Action<FailedItem>? OnError { get; set; }

    internal string DeadLetterKey => DeadLetterStreamKey ?? StreamKey + ":dead";

    /// <inheritdoc/>
    protected override string DefaultName => "RedisWorkQueue";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(!string.IsNullOrEmpty(StreamKey), nameof(StreamKey), StreamKey, "must name the stream")
            .Require(!string.IsNullOrEmpty(GroupName), nameof(GroupName), GroupName, "must name the consumer group")
            .Require(ConsumerName is null || ConsumerName.Length > 0, nameof(ConsumerName), ConsumerName, "must be null or not empty")
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .RequirePositive(ClaimIdleTime, nameof(ClaimIdleTime))
            .RequirePositive(PollInterval, nameof(PollInterval))
            .RequirePositive(MaxDeliveries, nameof(MaxDeliveries))
            .Require(DeadLetterStreamKey is null || DeadLetterStreamKey.Length > 0, nameof(DeadLetterStreamKey), DeadLetterStreamKey, "must be null or not empty")
            // The reclaim and the poll run on timers: longer spans would fail in the consumer's loop instead of here.
            .RequireTimerRange(ClaimIdleTime, nameof(ClaimIdleTime))
            .RequireTimerRange(PollInterval, nameof(PollInterval));
    }

    internal RedisWorkQueueOptions Clone() => (RedisWorkQueueOptions)MemberwiseClone();
}
