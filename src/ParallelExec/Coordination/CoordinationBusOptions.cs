using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// Options of a <see cref="CoordinationBus"/>. Validated once when the bus is built and copied, so later changes to
/// this object do not affect a running bus. <see cref="QueueCapacity"/> and <see cref="FullMode"/> are the defaults of
/// every subscriber's mailbox (a subscription may set its own in <see cref="SubscriptionOptions"/>).
/// </summary>
public sealed class CoordinationBusOptions : ComponentOptions
{
    /// <summary>Gets or sets the mailbox capacity of a subscription that does not set its own
    /// (<see cref="SubscriptionOptions.QueueCapacity"/>).</summary>
    /// <value>Defaults to 1024. Must be greater than zero.</value>
    public int QueueCapacity { get; set; } = 1024;

    /// <summary>Gets or sets what a full mailbox does with a new message, for subscriptions that do not set their own
    /// (<see cref="SubscriptionOptions.FullMode"/>).</summary>
    /// <value>Defaults to <see cref="QueueFullMode.Wait"/>: the publisher awaits room in that one mailbox.</value>
    public QueueFullMode FullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>Gets or sets the timeout of <c>RequestAsync</c> when the call does not pass one.</summary>
    /// <value>Defaults to 30 seconds. Must be greater than zero or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how many dead letters wait to be read (<see cref="CoordinationBus.ReadDeadLettersAsync"/>)
    /// before the oldest is evicted and counted in <see cref="CoordinationBusStatistics.DeadLettersLost"/>.</summary>
    /// <value>Defaults to 1024. Must be greater than zero.</value>
    public int DeadLetterCapacity { get; set; } = 1024;

    /// <summary>Gets or sets the resilience pipeline (retry, timeout, circuit breaker) every handler runs through, unless
    /// its subscription sets its own (<see cref="SubscriptionOptions.ResiliencePipeline"/>). A handler that still fails
    /// goes to the dead letters.</summary>
    /// <value>Defaults to null: handlers run once.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    /// <summary>Result-typed pipelines for responders, by reply type, set through
    /// <see cref="CoordinationBusBuilder.WithResilience{TReply}(ResiliencePipeline{TReply})"/> (these options know no reply
    /// type). Null when none was set.</summary>
    internal Dictionary<Type, object>? ReplyResiliencePipelines { get; set; }

    /// <summary>The result-typed pipeline for responders replying with <typeparamref name="TReply"/>, if one was set.</summary>
    internal ResiliencePipeline<TReply>? ReplyPipelineFor<TReply>() =>
        ReplyResiliencePipelines is { } pipelines && pipelines.TryGetValue(typeof(TReply), out var pipeline) ? (ResiliencePipeline<TReply>)pipeline : null;

    /// <summary>Gets or sets a callback told about every delivery that did not reach a handler's outcome: a message a full
    /// mailbox refused or evicted, a publisher's wait for room that was cancelled, or a message a passed
    /// <see cref="ComponentOptions.DrainTimeout"/> cut. <see cref="DroppedItem.Item"/> is the message,
    /// <see cref="DroppedItem.Key"/> the topic. It runs on the publishing (or disposing) thread, never under a lock; its
    /// exceptions are caught (and recorded on the current span) so that a faulty callback cannot break delivery to the
    /// other subscribers.</summary>
    /// <value>Defaults to null.</value>
    public Action<DroppedItem>? OnDropped { get; set; }

    /// <summary>Gets or sets a callback told about every handler failure (after the resilience pipeline), as it happens.
    /// <see cref="FailedItem.Item"/> is the message, <see cref="FailedItem.Key"/> the topic. The message also goes to the
    /// dead letters (<see cref="DeadLetterReason.HandlerFailed"/>); a responder's failure also reaches the requester.
    /// Its exceptions are caught.</summary>
    /// <value>Defaults to null: a failure is recorded on the delivery's span and counted in
    /// <c>parallelexec.bus.items.failed</c>.</value>
    public Action<FailedItem>? OnError { get; set; }

    /// <summary>Gets or sets a callback told about every dead letter as it happens (in addition to the dead-letter
    /// stream). Its exceptions are caught and ignored.</summary>
    /// <value>Defaults to null.</value>
    public Action<DeadLetter>? OnDeadLetter { get; set; }

    /// <inheritdoc/>
    protected override string DefaultName => "CoordinationBus";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .RequirePositive(QueueCapacity, nameof(QueueCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .RequirePositiveOrInfinite(RequestTimeout, nameof(RequestTimeout))
            .RequirePositive(DeadLetterCapacity, nameof(DeadLetterCapacity))
            // A request's timeout is a timer: longer spans would fail inside RequestAsync.
            .RequireTimerRange(RequestTimeout, nameof(RequestTimeout));
    }

    /// <summary>Validates, then copies, so that the bus never sees later changes.</summary>
    internal CoordinationBusOptions ValidatedCopy()
    {
        Validate();
        var copy = (CoordinationBusOptions)MemberwiseClone();
        copy.ReplyResiliencePipelines = ReplyResiliencePipelines is null ? null : new(ReplyResiliencePipelines);
        return copy;
    }
}
