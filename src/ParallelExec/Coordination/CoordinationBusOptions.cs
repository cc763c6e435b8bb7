using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// Options of a <see cref="CoordinationBus"/>. Validated once when the bus is built and copied, so later changes to
/// this object do not affect a running bus.
/// </summary>
public sealed class CoordinationBusOptions
{
    /// <summary>Gets or sets the name of the bus, used as the <see cref="TelemetryTagNames.Name"/> tag.</summary>
    /// <value>Defaults to <c>"bus"</c>.</value>
    public string Name { get; set; } = "bus";

    /// <summary>Gets or sets the clock for timestamps, request timeouts, scatter-gather windows, waits and drain deadlines.</summary>
    /// <value>Defaults to <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Gets or sets the mailbox capacity of a subscription that does not set its own
    /// (<see cref="SubscriptionOptions.MailboxCapacity"/>).</summary>
    /// <value>Defaults to 1024. Must be greater than zero.</value>
    public int MailboxCapacity { get; set; } = 1024;

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

    /// <summary>Gets or sets a callback told about every message a full mailbox refused or evicted, or a drain
    /// deadline discarded. It runs on the publishing (or disposing) thread, never under a lock; its exceptions are caught
    /// and ignored so that a faulty callback cannot break delivery to the other subscribers.</summary>
    /// <value>Defaults to null.</value>
    public Action<DroppedMessage>? OnDropped { get; set; }

    /// <summary>Gets or sets a callback told about every dead letter as it happens (in addition to the dead-letter
    /// stream). Its exceptions are caught and ignored.</summary>
    /// <value>Defaults to null.</value>
    public Action<DeadLetter>? OnDeadLetter { get; set; }

    /// <summary>Gets or sets how long <see cref="CoordinationBus.DisposeAsync"/> and <see cref="Subscription.DisposeAsync"/>
    /// wait for queued messages to be handled before cancelling the handlers and dropping the rest
    /// (<see cref="DropReason.DrainTimeout"/>).</summary>
    /// <value>Defaults to <see cref="Timeout.InfiniteTimeSpan"/>: drain everything. Must be greater than or equal to
    /// zero, or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan DrainTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    internal CoordinationBusOptions Validate()
    {
        new OptionsValidator(nameof(CoordinationBusOptions))
            .Require(!string.IsNullOrWhiteSpace(Name), nameof(Name), Name, "must not be null, empty or whitespace")
            .RequireNotNull(TimeProvider, nameof(TimeProvider))
            .RequirePositive(MailboxCapacity, nameof(MailboxCapacity))
            .RequireDefined(FullMode, nameof(FullMode))
            .RequirePositiveOrInfinite(RequestTimeout, nameof(RequestTimeout))
            .RequirePositive(DeadLetterCapacity, nameof(DeadLetterCapacity))
            .Require(DrainTimeout >= TimeSpan.Zero || DrainTimeout == Timeout.InfiniteTimeSpan, nameof(DrainTimeout), DrainTimeout, "must be greater than or equal to zero or Timeout.InfiniteTimeSpan")
            .ThrowIfInvalid();
        return (CoordinationBusOptions)MemberwiseClone();
    }
}
