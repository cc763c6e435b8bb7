using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// Fluent builder of a <see cref="CoordinationBus"/>, from <c>Exec.Bus()</c>. Single use: after <c>Build()</c>, every
/// method throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class CoordinationBusBuilder : ComponentBuilder<CoordinationBusBuilder, CoordinationBusOptions, CoordinationBus>
{
    internal CoordinationBusBuilder()
        : base(new CoordinationBusOptions())
    {
    }

    /// <summary>Sets the default mailbox of subscriptions (<see cref="CoordinationBusOptions.QueueCapacity"/>,
    /// <see cref="CoordinationBusOptions.FullMode"/>).</summary>
    /// <param name="capacity">How many messages a subscriber's mailbox holds.</param>
    /// <param name="fullMode">What a full mailbox does with a new message.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithQueue(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) => Set(o =>
    {
        o.QueueCapacity = capacity;
        o.FullMode = fullMode;
    });

    /// <summary>Sets the default request timeout (<see cref="CoordinationBusOptions.RequestTimeout"/>).</summary>
    /// <param name="timeout">The timeout.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithRequestTimeout(TimeSpan timeout) => Set(o => o.RequestTimeout = timeout);

    /// <summary>Sets how many unread dead letters are kept (<see cref="CoordinationBusOptions.DeadLetterCapacity"/>).</summary>
    /// <param name="capacity">The capacity.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithDeadLetterCapacity(int capacity) => Set(o => o.DeadLetterCapacity = capacity);

    /// <summary>Sets the resilience pipeline handlers run through (<see cref="CoordinationBusOptions.ResiliencePipeline"/>).</summary>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithResilience(ResiliencePipeline pipeline) => Set(o => o.ResiliencePipeline = pipeline);

    /// <summary>Sets the resilience pipeline that responders replying with <typeparamref name="TReply"/> run through,
    /// typed by the reply, so that strategies that look at the result (a retry or hedge on a reply, a fallback reply)
    /// apply. For those responders it takes the place of <see cref="WithResilience(ResiliencePipeline)"/>; a
    /// subscription that sets its own <see cref="SubscriptionOptions.ResiliencePipeline"/> keeps that one. One pipeline
    /// per reply type (matched exactly); a later call for the same type replaces it.</summary>
    /// <typeparam name="TReply">The reply type of the responders it applies to.</typeparam>
    /// <param name="pipeline">The pipeline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithResilience<TReply>(ResiliencePipeline<TReply> pipeline)
    {
        ArgumentNullException.ThrowIfNull(pipeline);
        return Set(o => (o.ReplyResiliencePipelines ??= [])[typeof(TReply)] = pipeline);
    }

    /// <summary>Sets the callback told about every dropped delivery (<see cref="CoordinationBusOptions.OnDropped"/>).</summary>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder OnDropped(Action<DroppedItem> callback) => Set(o => o.OnDropped = callback);

    /// <summary>Sets the callback told about every handler failure (<see cref="CoordinationBusOptions.OnError"/>).</summary>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder OnError(Action<FailedItem> callback) => Set(o => o.OnError = callback);

    /// <summary>Sets the callback told about dead letters (<see cref="CoordinationBusOptions.OnDeadLetter"/>).</summary>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder OnDeadLetter(Action<DeadLetter> callback) => Set(o => o.OnDeadLetter = callback);

    /// <inheritdoc/>
    protected override CoordinationBus Create(CoordinationBusOptions options) => new(options);
}
