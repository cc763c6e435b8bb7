namespace ParallelExec.Coordination;

/// <summary>A subscription whose messages go to a handler delegate.</summary>
internal sealed class HandlerSubscription<T> : Subscription
{
    private readonly Func<BusMessage<T>, CancellationToken, ValueTask> _handler;

    public HandlerSubscription(CoordinationBus bus, TopicPattern pattern, string name, SubscriptionOptions options, Func<BusMessage<T>, CancellationToken, ValueTask> handler)
        : base(bus, pattern, typeof(T), name, options)
    {
        _handler = handler;
    }

    internal override void Start() => StartHandlerLoops();

    internal override ValueTask InvokeAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        var message = envelope.ToBusMessage<T>();
        return Pipeline is null
            ? _handler(message, cancellationToken)
            : Pipeline.ExecuteAsync(static (state, token) => state.Handler(state.Message, token), (Handler: _handler, Message: message), cancellationToken);
    }
}
