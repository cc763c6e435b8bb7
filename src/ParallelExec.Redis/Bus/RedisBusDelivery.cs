namespace ParallelExec.Redis;

/// <summary>How a <see cref="RedisBusBridge"/> carries a topic between processes.</summary>
public enum RedisBusDelivery
{
    /// <summary>
    /// Redis Pub/Sub: fire and forget, at most once. A message reaches the processes subscribed at the moment it is
    /// published; one that is not running (or loses its connection) then never gets it. Lowest latency, nothing stored.
    /// </summary>
    PubSub,

    /// <summary>
    /// A Redis stream per topic with a consumer group per subscriber name: at least once. A subscriber that restarts
    /// under the same <see cref="RedisBusBridgeOptions.SubscriberName"/> gets what was published while it was away and
    /// again what it had received but not yet passed to its local bus. The stream keeps at most
    /// <see cref="RedisBusBridgeOptions.StreamMaxLength"/> messages (about).
    /// </summary>
    Streams,
}
