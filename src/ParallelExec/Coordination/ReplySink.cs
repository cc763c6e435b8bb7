namespace ParallelExec.Coordination;

/// <summary>
/// Collects the replies to one request. Responders call it from their handler loops; the requester awaits it. Every
/// responder the request was counted for reports exactly once: a reply, a failure, or that the request never reached it.
/// </summary>
internal interface IReplySink
{
    /// <summary>Whether a responder replying with <paramref name="replyType"/> counts for this request.</summary>
    bool Accepts(Type replyType);

    void OnReply(object? reply);

    void OnFailure(Exception exception);
}

/// <summary>A sink that takes a reply of type <typeparamref name="T"/> without boxing it (a responder whose reply type
/// is the one the requester asked for, the common case).</summary>
internal interface IReplySink<in T> : IReplySink
{
    void OnTypedReply(T reply);
}

/// <summary>
/// A sink for <c>RequestAsync</c>: the first reply wins; the request fails when every responder failed. The bus's
/// <see cref="PendingRequests"/> keeps its timeout and fails it on disposal, and it listens to the caller's token
/// itself, so the requester awaits one task and nothing else (no WaitAsync wrapper, no linked token source).
/// </summary>
internal sealed class SingleReplySink<TReply> : TaskCompletionSource<TReply>, IReplySink<TReply>, IPendingRequest
{
    private readonly CoordinationBus _bus;
    private readonly string _topic;
    private readonly TimeSpan _timeout;
    private int _pending;
    private Exception? _firstFailure;
    private ITimer? _timer;
    private CancellationToken _cancellationToken;
    private CancellationTokenRegistration _cancellation;
    private PendingRequestLink _link;

    /// <summary>The sink is the task's completion source itself: one object fewer per request.</summary>
    public SingleReplySink(CoordinationBus bus, string topic, TimeSpan timeout)
        : base(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        _bus = bus;
        _topic = topic;
        _timeout = timeout;
    }

    public ref PendingRequestLink Link => ref _link;

    public void SetResponders(int count) => _pending = count;

    /// <summary>Starts the timeout and listens to the caller's token and the bus's disposal. Called before the request
    /// is delivered, so no reply can race with it.</summary>
    public void Arm(CancellationToken cancellationToken)
    {
        // Kept in a field, not read back from the registration: a token cancelled during UnsafeRegister runs Cancel
        // before the registration is assigned.
        _cancellationToken = cancellationToken;
        switch (_bus.PendingRequests.Add(this, _timeout))
        {
            case PendingAdd.Closed:
                BusDisposed();
                return;
            case PendingAdd.NeedsOwnTimer:
                _timer = _bus.Options.TimeProvider.CreateTimer(static state => ((SingleReplySink<TReply>)state!).Expire(), this, _timeout, Timeout.InfiniteTimeSpan);
                break;
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state => ((SingleReplySink<TReply>)state!).Cancel(), this);
        }
    }

    public bool Accepts(Type replyType) => typeof(TReply).IsAssignableFrom(replyType);

    public void OnReply(object? reply) => OnTypedReply((TReply)reply!);

    public void OnTypedReply(TReply reply)
    {
        if (TrySetResult(reply))
        {
            Release();
        }
    }

    public void OnFailure(Exception exception)
    {
        Interlocked.CompareExchange(ref _firstFailure, exception, null);
        if (Interlocked.Decrement(ref _pending) == 0 && TrySetException(_firstFailure!))
        {
            Release();
        }
    }

    public void Expire()
    {
        if (TrySetException(new TimeoutException($"No reply to the request on topic \"{_topic}\" within {_timeout}.")))
        {
            Release();
        }
    }

    public void BusDisposed()
    {
        if (TrySetException(new ObjectDisposedException(nameof(CoordinationBus), $"The bus {_bus.Name} was disposed while waiting for a reply on \"{_topic}\".")))
        {
            Release();
        }
    }

    private void Cancel()
    {
        if (TrySetCanceled(_cancellationToken))
        {
            Release();
        }
    }

    private void Release()
    {
        // Unregister rather than Dispose: Dispose would wait for a callback running on another thread, and may be
        // called from inside one of these very callbacks.
        _bus.PendingRequests.Remove(this);
        _timer?.Dispose();
        _cancellation.Unregister();
    }
}

/// <summary>A sink for scatter-gather: collects every reply until all responders answered or enough replies arrived.</summary>
internal sealed class GatherReplySink<TReply> : IReplySink
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

    public bool Accepts(Type replyType) => typeof(TReply).IsAssignableFrom(replyType);

    public void OnReply(object? reply)
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

    public void OnFailure(Exception exception)
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
