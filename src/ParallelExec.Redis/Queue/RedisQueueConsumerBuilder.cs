using System.Text.Json;

namespace ParallelExec.Redis;

/// <summary>
/// Builds a consumer of a distributed work queue
/// (<see cref="RedisQueueConsumer{T}.CreateBuilder(string, string, Func{RedisWorkItem{T}, CancellationToken, ValueTask})"/>):
/// its group and name, concurrency, reclaim, dead letters and failure callback, besides the database and retry every
/// Redis builder has. <c>Build()</c> starts consuming. Single use.
/// </summary>
/// <typeparam name="T">The payload type.</typeparam>
public sealed class RedisQueueConsumerBuilder<T> : RedisComponentBuilder<RedisQueueConsumerBuilder<T>, RedisWorkQueueOptions, RedisQueueConsumer<T>>
{
    private readonly Func<RedisWorkItem<T>, CancellationToken, ValueTask> _handler;

    internal RedisQueueConsumerBuilder(RedisWorkQueueOptions options, Func<RedisWorkItem<T>, CancellationToken, ValueTask> handler)
        : base(options) => _handler = handler;

    /// <summary>Sets the consumer group to join (<see cref="RedisWorkQueueOptions.GroupName"/>).</summary>
    /// <param name="groupName">The group; not empty.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithGroup(string groupName) => Set(o => o.GroupName = groupName);

    /// <summary>Sets this consumer's name in the group (<see cref="RedisWorkQueueOptions.ConsumerName"/>), unique among the live consumers.</summary>
    /// <param name="consumerName">The name; not empty.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithConsumerName(string consumerName) => Set(o => o.ConsumerName = consumerName);

    /// <summary>Sets how many items the consumer runs at once (<see cref="RedisWorkQueueOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) => Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Sets how long an item may stay unacknowledged before any consumer takes it over (<see cref="RedisWorkQueueOptions.ClaimIdleTime"/>).</summary>
    /// <param name="claimIdleTime">Greater than zero; longer than the slowest handler run.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithClaimIdleTime(TimeSpan claimIdleTime) => Set(o => o.ClaimIdleTime = claimIdleTime);

    /// <summary>Sets how long the consumer waits before reading again when the stream had nothing for it (<see cref="RedisWorkQueueOptions.PollInterval"/>).</summary>
    /// <param name="pollInterval">Greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithPollInterval(TimeSpan pollInterval) => Set(o => o.PollInterval = pollInterval);

    /// <summary>
    /// Sets how many deliveries an item gets before it goes to the dead-letter stream
    /// (<see cref="RedisWorkQueueOptions.MaxDeliveries"/>, <see cref="RedisWorkQueueOptions.DeadLetterStreamKey"/>).
    /// </summary>
    /// <param name="maxDeliveries">Greater than zero.</param>
    /// <param name="deadLetterStreamKey">The dead-letter stream; <see langword="null"/> for the stream's key followed by <c>:dead</c>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithDeadLetters(int maxDeliveries, string? deadLetterStreamKey = null) => Set(o =>
    {
        o.MaxDeliveries = maxDeliveries;
        o.DeadLetterStreamKey = deadLetterStreamKey;
    });

    /// <summary>Sets the callback for a handler that failed (<see cref="RedisWorkQueueOptions.OnError"/>).</summary>
    /// <param name="onError">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> OnError(Action<FailedItem> onError) => Set(o => o.OnError = onError);

    /// <summary>Sets the serializer options of the payloads (<see cref="RedisWorkQueueOptions.SerializerOptions"/>), the same as the producers'.</summary>
    /// <param name="serializerOptions">The options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its consumer.</exception>
    public RedisQueueConsumerBuilder<T> WithSerializerOptions(JsonSerializerOptions serializerOptions) => Set(o => o.SerializerOptions = serializerOptions);

    /// <inheritdoc/>
    protected override RedisQueueConsumer<T> Create(RedisWorkQueueOptions options) => new(options, _handler);
}
