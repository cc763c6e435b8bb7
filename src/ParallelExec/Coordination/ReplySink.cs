namespace ParallelExec.Coordination;

/// <summary>
/// Collects the replies to one request. Responders call it from their handler loops; the requester awaits it. Every
/// responder the request was counted for reports exactly once: a reply, a failure, or that the request never reached it.
/// </summary>
internal abstract class ReplySink
{
    /// <summary>Whether a responder replying with <paramref name="replyType"/> counts for this request.</summary>
    public abstract bool Accepts(Type replyType);

    public abstract void OnReply(object? reply);

    public abstract void OnFailure(Exception exception);
}

/// <summary>A sink for <c>RequestAsync</c>: the first reply wins; the request fails when every responder failed.</summary>
internal sealed class SingleReplySink<TReply> : ReplySink
{
    private readonly TaskCompletionSource<TReply> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _pending;
    private Exception? _firstFailure;

    public Task<TReply> Task => _completion.Task;

    public void SetResponders(int count) => _pending = count;

    public override bool Accepts(Type replyType) => typeof(TReply).IsAssignableFrom(replyType);

    public override void OnReply(object? reply) => _completion.TrySetResult((TReply)reply!);

    public override void OnFailure(Exception exception)
    {
        Interlocked.CompareExchange(ref _firstFailure, exception, null);
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _completion.TrySetException(_firstFailure!);
        }
    }
}

/// <summary>A sink for scatter-gather: collects every reply until all responders answered or enough replies arrived.</summary>
internal sealed class GatherReplySink<TReply> : ReplySink
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<TReply> _replies = [];
    private readonly List<Exception> _failures = [];
    private readonly int _maxReplies;
    private int _responders;
    private bool _closed;

    public GatherReplySink(int maxReplies)
    {
        _maxReplies = maxReplies;
    }

    public Task Completion => _completion.Task;

    public void SetResponders(int count) => _responders = count;

    public override bool Accepts(Type replyType) => typeof(TReply).IsAssignableFrom(replyType);

    public override void OnReply(object? reply)
    {
        bool done;
        lock (_replies)
        {
            if (_closed)
            {
                return;
            }

            _replies.Add((TReply)reply!);
            done = _replies.Count >= _maxReplies || _replies.Count + _failures.Count >= _responders;
        }

        if (done)
        {
            _completion.TrySetResult();
        }
    }

    public override void OnFailure(Exception exception)
    {
        bool done;
        lock (_replies)
        {
            if (_closed)
            {
                return;
            }

            _failures.Add(exception);
            done = _replies.Count + _failures.Count >= _responders;
        }

        if (done)
        {
            _completion.TrySetResult();
        }
    }

    /// <summary>Stops collecting and returns what arrived; later replies are ignored.</summary>
    public ScatterGatherResult<TReply> Close(bool windowElapsed)
    {
        lock (_replies)
        {
            _closed = true;
            var replies = _replies.Count > _maxReplies ? _replies.GetRange(0, _maxReplies) : [.. _replies];
            return new ScatterGatherResult<TReply>(replies, [.. _failures], _responders, windowElapsed);
        }
    }
}
