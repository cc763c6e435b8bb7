namespace ParallelExec.Coordination;

/// <summary>A subscription whose handler's result is the reply to a request. A plain publish to its topic runs the
/// handler too; the result then goes nowhere.</summary>
internal sealed class ResponderSubscription<TRequest, TReply> : Subscription
{
    private readonly Func<BusMessage<TRequest>, CancellationToken, ValueTask<TReply>> _responder;

    // The bus's pipeline typed by this reply type, unless the subscription set its own (non-generic) one.
    private readonly Polly.ResiliencePipeline<TReply>? _replyPipeline;

    public ResponderSubscription(CoordinationBus bus, TopicPattern pattern, string name, SubscriptionOptions options, Func<BusMessage<TRequest>, CancellationToken, ValueTask<TReply>> responder)
        : base(bus, pattern, typeof(TRequest), name, options)
    {
        _responder = responder;
        _replyPipeline = options.ResiliencePipeline is null ? bus.Options.ReplyPipelineFor<TReply>() : null;
    }

    internal override Type? ReplyType => typeof(TReply);

    internal override void Start() => StartHandlerLoops();

    internal override async ValueTask InvokeAsync(Envelope envelope, CancellationToken cancellationToken)
    {
        var message = envelope.ToBusMessage<TRequest>();
        var reply = _replyPipeline is { } typed
            ? await typed.ExecuteAsync(static (state, token) => state.Responder(state.Message, token), (Responder: _responder, Message: message), cancellationToken).ConfigureAwait(false)
            : Pipeline is null
            ? await _responder(message, cancellationToken).ConfigureAwait(false)
            : await Pipeline.ExecuteAsync(static (state, token) => state.Responder(state.Message, token), (Responder: _responder, Message: message), cancellationToken).ConfigureAwait(false);
        if (envelope.Reply is IReplySink<TReply> typedSink)
        {
            typedSink.OnTypedReply(reply);
        }
        else if (envelope.Reply is { } sink && sink.Accepts(typeof(TReply)))
        {
            sink.OnReply(reply);
        }
    }
}
