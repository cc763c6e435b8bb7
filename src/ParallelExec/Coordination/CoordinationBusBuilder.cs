using Polly;

namespace ParallelExec.Coordination;

/// <summary>
/// Fluent builder of a <see cref="CoordinationBus"/>, from <c>Exec.Bus()</c>. Single use: after
/// <see cref="Build"/>, every method throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class CoordinationBusBuilder
{
    private readonly CoordinationBusOptions _options = new();
    private bool _built;

    internal CoordinationBusBuilder()
    {
    }

    /// <summary>Sets the bus's name (<see cref="CoordinationBusOptions.Name"/>).</summary>
    /// <param name="name">The name.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithName(string name) => Set(o => o.Name = name);

    /// <summary>Sets the clock (<see cref="CoordinationBusOptions.TimeProvider"/>).</summary>
    /// <param name="timeProvider">The clock.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithTimeProvider(TimeProvider timeProvider) => Set(o => o.TimeProvider = timeProvider);

    /// <summary>Sets the default mailbox of subscriptions (<see cref="CoordinationBusOptions.MailboxCapacity"/>,
    /// <see cref="CoordinationBusOptions.FullMode"/>).</summary>
    /// <param name="capacity">The capacity.</param>
    /// <param name="fullMode">What a full mailbox does with a new message.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithMailbox(int capacity, QueueFullMode fullMode = QueueFullMode.Wait) => Set(o =>
    {
        o.MailboxCapacity = capacity;
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

    /// <summary>Sets the drain deadline of disposal (<see cref="CoordinationBusOptions.DrainTimeout"/>).</summary>
    /// <param name="timeout">The deadline.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder WithDrainTimeout(TimeSpan timeout) => Set(o => o.DrainTimeout = timeout);

    /// <summary>Sets the callback told about dropped messages (<see cref="CoordinationBusOptions.OnDropped"/>).</summary>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder OnDropped(Action<DroppedMessage> callback) => Set(o => o.OnDropped = callback);

    /// <summary>Sets the callback told about dead letters (<see cref="CoordinationBusOptions.OnDeadLetter"/>).</summary>
    /// <param name="callback">The callback.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBusBuilder OnDeadLetter(Action<DeadLetter> callback) => Set(o => o.OnDeadLetter = callback);

    /// <summary>Validates the options and builds the bus.</summary>
    /// <returns>The bus.</returns>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public CoordinationBus Build()
    {
        ThrowIfBuilt();
        var bus = new CoordinationBus(_options);
        _built = true;
        return bus;
    }

    private CoordinationBusBuilder Set(Action<CoordinationBusOptions> apply)
    {
        ThrowIfBuilt();
        apply(_options);
        return this;
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This CoordinationBusBuilder has already built a bus; builders are single use. Call Exec.Bus() for a new one.");
        }
    }
}
