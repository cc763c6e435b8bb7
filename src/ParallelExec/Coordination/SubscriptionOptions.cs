using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// Options of one subscription: its mailbox and its handler concurrency. Unset values take the bus's defaults.
/// Validated and copied when the subscription is created.
/// </summary>
public sealed class SubscriptionOptions
{
    /// <summary>Gets or sets the subscription's name, used in dead letters and statistics.</summary>
    /// <value>Defaults to null: the pattern followed by <c>#</c> and a bus-wide sequence number.</value>
    public string? Name { get; set; }

    /// <summary>Gets or sets the mailbox capacity.</summary>
    /// <value>Defaults to null: <see cref="CoordinationBusOptions.QueueCapacity"/>. Must be greater than zero.</value>
    public int? QueueCapacity { get; set; }

    /// <summary>Gets or sets what the full mailbox does with a new message.</summary>
    /// <value>Defaults to null: <see cref="CoordinationBusOptions.FullMode"/>.</value>
    /// <remarks>
    /// <see cref="QueueFullMode.Wait"/>: <c>PublishAsync</c> first offers the message to every other matching mailbox, then
    /// awaits room in each full Wait mailbox, one after the other; other subscribers keep receiving and handling
    /// meanwhile. A handler publishing into its own full Wait mailbox would wait for itself, so that one message is
    /// rejected instead (and reported). <see cref="QueueFullMode.DropOldest"/> and <see cref="QueueFullMode.DropNewest"/>
    /// evict a queued message; <see cref="QueueFullMode.Reject"/> refuses the new one. Every drop is counted, reported to
    /// <see cref="CoordinationBusOptions.OnDropped"/> and in the <see cref="PublishResult"/>.
    /// </remarks>
    public QueueFullMode? FullMode { get; set; }

    /// <summary>Gets or sets how many messages the handler may process at once.</summary>
    /// <value>Defaults to 1, which keeps the subscription's messages in publish order. Must be greater than zero.
    /// Ignored by stream subscriptions (the reader decides).</value>
    public int MaxDegreeOfParallelism { get; set; } = 1;

    /// <summary>Gets or sets the resilience pipeline this subscription's handler runs through.</summary>
    /// <value>Defaults to null: <see cref="CoordinationBusOptions.ResiliencePipeline"/>. Use
    /// <see cref="ResiliencePipeline.Empty"/> to run without the bus's pipeline.</value>
    public ResiliencePipeline? ResiliencePipeline { get; set; }

    internal SubscriptionOptions Validate()
    {
        new OptionsValidator(nameof(SubscriptionOptions))
            .Require(Name is null || !string.IsNullOrWhiteSpace(Name), nameof(Name), Name, "must not be empty or whitespace")
            .Require(QueueCapacity is null or > 0, nameof(QueueCapacity), QueueCapacity, "must be greater than zero")
            .Require(FullMode is null || Enum.IsDefined(FullMode.Value), nameof(FullMode), FullMode, "must be a defined QueueFullMode value")
            .RequirePositive(MaxDegreeOfParallelism, nameof(MaxDegreeOfParallelism))
            .ThrowIfInvalid();
        return (SubscriptionOptions)MemberwiseClone();
    }
}
