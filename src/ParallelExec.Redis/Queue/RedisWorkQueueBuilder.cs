using System.Text.Json;

namespace ParallelExec.Redis;

/// <summary>
/// Builds the producer side of a distributed work queue (<see cref="RedisWorkQueue{T}.CreateBuilder(string, string)"/>):
/// the payload format, besides the database and retry every Redis builder has (the consumers choose the group). Single use.
/// </summary>
/// <typeparam name="T">The payload type.</typeparam>
public sealed class RedisWorkQueueBuilder<T> : RedisComponentBuilder<RedisWorkQueueBuilder<T>, RedisWorkQueueOptions, RedisWorkQueue<T>>
{
    internal RedisWorkQueueBuilder(RedisWorkQueueOptions options)
        : base(options)
    {
    }

    /// <summary>Sets the serializer options of the payloads (<see cref="RedisWorkQueueOptions.SerializerOptions"/>); the consumers must use the same.</summary>
    /// <param name="serializerOptions">The options.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built its queue.</exception>
    public RedisWorkQueueBuilder<T> WithSerializerOptions(JsonSerializerOptions serializerOptions) => Set(o => o.SerializerOptions = serializerOptions);

    /// <inheritdoc/>
    protected override RedisWorkQueue<T> Create(RedisWorkQueueOptions options) => new(options);
}
