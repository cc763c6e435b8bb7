using System.Diagnostics;
using System.Net;
using System.Threading.RateLimiting;
using ParallelExec.Batching;
using ParallelExec.Internal;
using Polly;
using Polly.Retry;

namespace ParallelExec.Net;

/// <summary>
/// An admission gate for outgoing calls: at most <see cref="HttpGateOptions.MaxConcurrency"/> calls in flight, each
/// provider held to its request and weight limits, waiting calls admitted by priority, a bounded wait queue, and
/// throttling answers (429, or 503 with <c>Retry-After</c>) pausing only the provider that gave them.
/// </summary>
/// <remarks>
/// <para>
/// Calls go through <see cref="SendAsync"/> (HTTP, over the gate's shared pooled <see cref="Client"/>) or
/// <see cref="RunAsync{T}"/> (any call, such as an SDK client's). Each names its provider, the partition whose limits it
/// counts against, and may carry a weight (for example the tokens a model call is estimated to use) and a priority.
/// </para>
/// <para>
/// Admission: a call starts when a concurrency permit is free and its provider is not paused and has room in its
/// request and weight windows. Among the calls that could start, the highest priority goes first (arrival order among
/// equals). Within one provider the best waiting call holds its place, so a heavy call is not starved by lighter ones;
/// a provider that is paused or out of permits never holds up the others.
/// </para>
/// <para>
/// Ledger: every call ends exactly once for its caller, with its result, its exception, an
/// <see cref="OperationCanceledException"/> (a cancelled waiting call leaves the queue at once), an
/// <see cref="ItemDroppedException"/> from the queue policy, or an <see cref="ObjectDisposedException"/> after disposal.
/// </para>
/// </remarks>
[DebuggerDisplay("HttpGate {_options.Name}: waiting = {_queuedCount + _overflow.Count}, in flight = {_inFlight}")]
public sealed class HttpGate : IAsyncDisposable
{
    // Marks the async flow of a call admitted through this gate, so that DisposeAsync can tell it is called from inside
    // a call. Set where the call is invoked; undone when that async method returns.
    private static readonly AsyncLocal<HttpGate?> s_currentGate = new();

    private readonly HttpGateOptions _options;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly ConcurrencyLimiter _concurrency;
    private readonly bool _ownsClient;
    private readonly CancellationTokenSource _shutdown = new();

    // Guards every field below and all GateProvider / GateWaiter state. Under it: bookkeeping, limiter permits (no user
    // code runs in ConcurrencyLimiter), timer arming and completing task sources that run continuations asynchronously.
    // Never under it: user calls, OnDropped, HTTP, awaiting.
    private readonly object _lock = new();
    private readonly Dictionary<string, GateProvider> _providers = new(StringComparer.Ordinal);
    private readonly List<GateProvider> _providerList = [];
    private readonly LinkedList<GateWaiter> _arrivals = new();
    private readonly LinkedList<GateWaiter> _overflow = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;
    private int _queuedCount;
    private int _activeCalls;
    private bool _deadlinePassed;
    private int _inFlight;
    private int _peakInFlight;
    private long _admitted;
    private long _dropped;
    private long _throttled;
    private bool _disposing;
    private Task? _disposeTask;

    // Self-disposal (DisposeAsync called from inside a call): how many such calls wait, and the task they return.
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    /// <summary>Creates a gate from options; the options are validated and copied.</summary>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public HttpGate(HttpGateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        Validate(_options);
        _time = _options.TimeProvider;
        _startTimestamp = _time.GetTimestamp();
        _concurrency = new ConcurrencyLimiter(new ConcurrencyLimiterOptions { PermitLimit = _options.MaxConcurrency, QueueLimit = 0 });
        if (_options.HttpClient is { } client)
        {
            Client = client;
        }
        else
        {
            var clientOptions = _options.ClientOptions;
            clientOptions.MaxConnectionsPerServer = _options.MaxConcurrency;
            Client = PooledHttpClient.Create(clientOptions);
            _ownsClient = true;
        }
    }

    /// <summary>Gets the shared client <see cref="SendAsync"/> uses; callers may use it for calls that need no gate.</summary>
    public HttpClient Client { get; }

    /// <summary>Gets the name that tags this gate's metrics.</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Creates a Polly pipeline that retries calls failed with <see cref="ProviderThrottledException"/> at once: the retry
    /// waits in the gate, behind the provider's pause, so no delay of its own is needed.
    /// </summary>
    /// <param name="maxRetryAttempts">How many times one call may be retried.</param>
    /// <returns>A pipeline for <see cref="HttpGateOptions.ResiliencePipeline"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxRetryAttempts"/> is less than one.</exception>
    public static ResiliencePipeline CreateThrottleRetryPipeline(int maxRetryAttempts = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRetryAttempts, 1);
        return new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ProviderThrottledException>(),
                MaxRetryAttempts = maxRetryAttempts,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
            })
            .Build();
    }

    /// <summary>
    /// Sends an HTTP request through the gate on the shared <see cref="Client"/>, and through the resilience pipeline.
    /// </summary>
    /// <param name="provider">The provider whose limits the call counts against.</param>
    /// <param name="requestFactory">Creates the request; called once per attempt, because a request cannot be sent twice.</param>
    /// <param name="weight">The call's weight against the provider's weight limit (for example estimated tokens).</param>
    /// <param name="priority">Higher goes first among waiting calls.</param>
    /// <param name="cancellationToken">Cancels the wait (removing the call from the queue) or the running call.</param>
    /// <returns>The response, its content buffered. A 429 (or 503 with <c>Retry-After</c>) never comes back as a response:
    /// it pauses the provider and fails the attempt with <see cref="ProviderThrottledException"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="requestFactory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is negative or above the provider's weight limit.</exception>
    /// <exception cref="ProviderThrottledException">The provider throttled the call and the pipeline did not retry it (or gave up).</exception>
    /// <exception cref="ItemDroppedException">The full wait queue dropped or rejected the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public Task<HttpResponseMessage> SendAsync(
        string provider,
        Func<HttpRequestMessage> requestFactory,
        int weight = 1,
        int priority = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requestFactory);
        return RunAsync(
            provider,
            (Gate: this, Provider: provider, Factory: requestFactory),
            static (state, token) => state.Gate.SendOnceAsync(state.Provider, state.Factory, token),
            weight,
            priority,
            cancellationToken);
    }

    /// <summary>Runs any call through the gate and through the resilience pipeline.</summary>
    /// <typeparam name="T">The call's result.</typeparam>
    /// <param name="provider">The provider whose limits the call counts against.</param>
    /// <param name="call">The call; it receives a token cancelled when the caller cancels or the gate's drain deadline
    /// passes. Throw <see cref="ProviderThrottledException"/> from it to report throttling: the gate pauses the provider.</param>
    /// <param name="weight">The call's weight against the provider's weight limit (for example estimated tokens).</param>
    /// <param name="priority">Higher goes first among waiting calls.</param>
    /// <param name="cancellationToken">Cancels the wait (removing the call from the queue) or the running call.</param>
    /// <returns>The call's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="call"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is negative or above the provider's weight limit.</exception>
    /// <exception cref="ItemDroppedException">The full wait queue dropped or rejected the call.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public Task<T> RunAsync<T>(
        string provider,
        Func<CancellationToken, ValueTask<T>> call,
        int weight = 1,
        int priority = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        return RunAsync(provider, call, static (c, token) => c(token), weight, priority, cancellationToken);
    }

    /// <summary>
    /// Creates a coalescer that gathers single calls into bulk calls to <paramref name="provider"/>, each bulk call
    /// admitted through this gate.
    /// </summary>
    /// <typeparam name="TItem">One caller's request.</typeparam>
    /// <typeparam name="TResult">One caller's result.</typeparam>
    /// <param name="provider">The provider whose limits each bulk call counts against.</param>
    /// <param name="bulkCall">Makes one bulk call for a batch and returns one result per item, in order. Throw
    /// <see cref="ProviderThrottledException"/> to report throttling.</param>
    /// <param name="batching">Batch size, delay, concurrent batches and queue of the coalescer; <see langword="null"/> for
    /// the batch processor's defaults.</param>
    /// <param name="weigh">The weight of a bulk call against the provider's weight limit; <see langword="null"/> for 1.</param>
    /// <param name="priority">The priority of the bulk calls among the gate's waiting calls.</param>
    /// <returns>The coalescer; dispose it before the gate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="bulkCall"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A batching option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public RequestCoalescer<TItem, TResult> Coalesce<TItem, TResult>(
        string provider,
        Func<IReadOnlyList<TItem>, CancellationToken, ValueTask<IReadOnlyList<TResult>>> bulkCall,
        BatchProcessorOptions<TItem>? batching = null,
        Func<IReadOnlyList<TItem>, int>? weigh = null,
        int priority = 0)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(bulkCall);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposeTask) is not null, this);
        return new RequestCoalescer<TItem, TResult>(this, provider, bulkCall, batching ?? new BatchProcessorOptions<TItem>(), weigh, priority);
    }

    /// <summary>
    /// Creates a coalescer that gathers single calls into bulk HTTP requests to <paramref name="provider"/>, sent on the
    /// shared <see cref="Client"/> through this gate: a 429 (or 503 with <c>Retry-After</c>) pauses the provider and the
    /// bulk request is retried through the gate's pipeline.
    /// </summary>
    /// <typeparam name="TItem">One caller's request.</typeparam>
    /// <typeparam name="TResult">One caller's result.</typeparam>
    /// <param name="provider">The provider whose limits each bulk request counts against.</param>
    /// <param name="createRequest">Creates the bulk request for a batch; called once per attempt.</param>
    /// <param name="readResults">Reads one result per item, in order, from a successful bulk response.</param>
    /// <param name="batching">Batch size, delay, concurrent batches and queue of the coalescer; <see langword="null"/> for
    /// the batch processor's defaults.</param>
    /// <param name="weigh">The weight of a bulk request against the provider's weight limit; <see langword="null"/> for 1.</param>
    /// <param name="priority">The priority of the bulk requests among the gate's waiting calls.</param>
    /// <returns>The coalescer; dispose it before the gate.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/>, <paramref name="createRequest"/> or <paramref name="readResults"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">A batching option is invalid.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public RequestCoalescer<TItem, TResult> CoalesceHttp<TItem, TResult>(
        string provider,
        Func<IReadOnlyList<TItem>, HttpRequestMessage> createRequest,
        Func<IReadOnlyList<TItem>, HttpResponseMessage, CancellationToken, ValueTask<IReadOnlyList<TResult>>> readResults,
        BatchProcessorOptions<TItem>? batching = null,
        Func<IReadOnlyList<TItem>, int>? weigh = null,
        int priority = 0)
        where TItem : notnull
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(createRequest);
        ArgumentNullException.ThrowIfNull(readResults);
        return Coalesce<TItem, TResult>(
            provider,
            async (items, token) =>
            {
                using var response = await SendOnceAsync(provider, () => createRequest(items), token).ConfigureAwait(false);
                response.EnsureSuccessStatusCode();
                return await readResults(items, response, token).ConfigureAwait(false);
            },
            batching,
            weigh,
            priority);
    }

    /// <summary>Pauses a provider: no call of it is admitted until <paramref name="duration"/> has passed.</summary>
    /// <param name="provider">The provider.</param>
    /// <param name="duration">How long; a pause shorter than one already in force does not shorten it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="duration"/> is negative.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public void Pause(string provider, TimeSpan duration)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentOutOfRangeException.ThrowIfLessThan(duration, TimeSpan.Zero);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposeTask is not null, this);
            PauseLocked(GetProviderLocked(provider), duration, Now());
        }
    }

    /// <summary>Takes a snapshot of the gate and of every provider it has seen.</summary>
    /// <returns>The snapshot.</returns>
    public HttpGateStatistics GetStatistics()
    {
        lock (_lock)
        {
            var now = Now();
            var providers = new Dictionary<string, ProviderStatistics>(_providerList.Count, StringComparer.Ordinal);
            foreach (var p in _providerList)
            {
                providers[p.Name] = new ProviderStatistics(p.Name)
                {
                    Waiting = p.Waiting.Count,
                    InFlight = p.InFlight,
                    Admitted = p.Admitted,
                    Dropped = p.Dropped,
                    Throttled = p.Throttled,
                    TotalPauseTime = p.TotalPause,
                    RemainingPause = p.PausedUntil > now ? p.PausedUntil - now : TimeSpan.Zero,
                    AvailableRequests = p.RequestWindow?.GetStatistics()?.CurrentAvailablePermits,
                    AvailableWeight = p.WeightWindow?.GetStatistics()?.CurrentAvailablePermits,
                };
            }

            return new HttpGateStatistics(providers)
            {
                Waiting = _queuedCount + _overflow.Count,
                InFlight = _inFlight,
                Admitted = _admitted,
                Dropped = _dropped,
                Throttled = _throttled,
                PeakInFlight = _peakInFlight,
            };
        }
    }

    /// <summary>
    /// Stops intake, lets waiting and running calls finish (up to <see cref="HttpGateOptions.DrainTimeout"/>, after which
    /// waiting calls are dropped with <see cref="DropReason.DrainTimeout"/> and running ones cancelled), then releases
    /// the timers and the client the gate built. Idempotent.
    /// </summary>
    /// <returns>A task that completes when the gate has drained and released its resources (called from inside a call
    /// through this gate: when the other calls have ended, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside a call.</b> A call running through this gate (<see cref="RunAsync{T}"/>'s delegate,
    /// or anything on its async flow) that awaits the gate's disposal would wait for itself forever. Such a call is
    /// detected (an <see cref="AsyncLocal{T}"/> set around each admitted call) and behaves differently in one point only:
    /// it starts the disposal as usual (intake stops, waiting calls are admitted,
    /// <see cref="HttpGateOptions.DrainTimeout"/> applies to every call, the caller's included), but the task it returns
    /// completes once every other call has ended (waiting ones included), or once the callers hold every concurrency
    /// permit so that the rest can only start after them; calls waiting in such a <c>DisposeAsync</c> are counted per
    /// call, so that two calls disposing the gate at once do not wait for each other. The gate releases its resources
    /// in the background once the calling calls have ended too.</para>
    /// <para>Calls from outside (the first or later ones) return the full disposal: it completes only when every call,
    /// the ones that called <c>DisposeAsync</c> included, has ended and the resources are released.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromInside = ReferenceEquals(s_currentGate.Value, this);
        lock (_lock)
        {
            if (_disposeTask is null)
            {
                _disposing = true;
                SignalIfDrainedLocked();
                _disposeTask = DisposeCoreAsync();
            }

            if (!fromInside)
            {
                return new ValueTask(_disposeTask);
            }

            _selfDisposers++;
            var othersDrained = (_othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            SignalIfDrainedLocked();
            return new ValueTask(othersDrained);
        }
    }

    private async Task DisposeCoreAsync()
    {
        var drainTimeout = _options.DrainTimeout;
        try
        {
            if (drainTimeout == Timeout.InfiniteTimeSpan)
            {
                await _drained.Task.ConfigureAwait(false);
            }
            else
            {
                await _drained.Task.WaitAsync(drainTimeout, _time).ConfigureAwait(false);
            }
        }
        catch (TimeoutException)
        {
            List<(string Provider, DropReason Reason)>? drops = null;
            lock (_lock)
            {
                _deadlinePassed = true;
                while (_arrivals.First is { } node)
                {
                    DropLocked(node.Value, DropReason.DrainTimeout, ref drops);
                }

                while (_overflow.First is { } node)
                {
                    DropLocked(node.Value, DropReason.DrainTimeout, ref drops);
                }
            }

            ReportDrops(drops);
            await _shutdown.CancelAsync().ConfigureAwait(false);
            await _drained.Task.ConfigureAwait(false);
        }

        lock (_lock)
        {
            foreach (var provider in _providerList)
            {
                provider.Dispose();
            }
        }

        _concurrency.Dispose();
        _shutdown.Dispose();
        if (_ownsClient)
        {
            Client.Dispose();
        }
    }

    private async Task<TResult> RunAsync<TState, TResult>(
        string provider,
        TState state,
        Func<TState, CancellationToken, ValueTask<TResult>> call,
        int weight,
        int priority,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        GateProvider gateProvider;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposing, this);
            gateProvider = GetProviderLocked(provider);
        }

        if (gateProvider.Limits.WeightLimit is { } weightLimit && weight > weightLimit)
        {
            throw new ArgumentOutOfRangeException(
                nameof(weight), weight, $"The weight is above provider '{provider}''s WeightLimit ({weightLimit}); the call could never be admitted.");
        }

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposing, this);

            // A call counts until its last attempt ends, so that a drain waits for retries too.
            _activeCalls++;
        }

        try
        {
            var attempt = new Attempt<TState, TResult>(this, gateProvider, state, call, weight, priority);
            if (_options.ResiliencePipeline is not { } pipeline)
            {
                return await attempt.RunAsync(cancellationToken).ConfigureAwait(false);
            }

            return await pipeline.ExecuteAsync(
                static (a, token) => a.RunAsync(token),
                attempt,
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _activeCalls--;
                SignalIfDrainedLocked();
            }
        }
    }

    private async ValueTask<HttpResponseMessage> SendOnceAsync(string provider, Func<HttpRequestMessage> requestFactory, CancellationToken cancellationToken)
    {
        using var request = requestFactory() ?? throw new InvalidOperationException("The request factory returned null.");
        var response = await Client.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        var status = response.StatusCode;
        var retryAfter = response.Headers.RetryAfter;
        if (status == HttpStatusCode.TooManyRequests || (status == HttpStatusCode.ServiceUnavailable && retryAfter is not null))
        {
            TimeSpan? delay = retryAfter switch
            {
                { Delta: { } delta } => delta,
                { Date: { } date } => date - _time.GetUtcNow(),
                _ => null,
            };
            response.Dispose();
            throw new ProviderThrottledException(provider, delay is { } d && d < TimeSpan.Zero ? TimeSpan.Zero : delay, status);
        }

        return response;
    }

    /// <summary>One attempt: admission, the call, the throttling feedback and the release of the permit.</summary>
    private sealed class Attempt<TState, TResult>(
        HttpGate gate,
        GateProvider provider,
        TState state,
        Func<TState, CancellationToken, ValueTask<TResult>> call,
        int weight,
        int priority)
    {
        public async ValueTask<TResult> RunAsync(CancellationToken cancellationToken)
        {
            var ticket = await gate.AcquireAsync(provider, weight, priority, cancellationToken).ConfigureAwait(false);
            try
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, gate._shutdown.Token);
                if (!ReferenceEquals(s_currentGate.Value, gate))
                {
                    s_currentGate.Value = gate;
                }

                return await call(state, linked.Token).ConfigureAwait(false);
            }
            catch (ProviderThrottledException throttled)
            {
                // Pause before the permit is released, so that the freed slot does not go to the same provider.
                gate.OnThrottled(provider, throttled.RetryAfter);
                throw;
            }
            finally
            {
                gate.Release(ticket);
            }
        }
    }

    private ValueTask<GateTicket> AcquireAsync(GateProvider provider, int weight, int priority, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<GateTicket>(cancellationToken);
        }

        GateWaiter waiter;
        var rejected = false;
        List<(string Provider, DropReason Reason)>? drops = null;
        lock (_lock)
        {
            // Disposal stops intake of new calls (RunAsync checks), but a retry of a call taken in before still belongs
            // to the drain, until the drain deadline has passed.
            ObjectDisposedException.ThrowIf(_deadlinePassed || _drained.Task.IsCompleted, this);
            var now = Now();
            if (_queuedCount == 0 && _overflow.Count == 0 && provider.CanAdmit(weight, now)
                && TryAdmitLocked(provider, weight, now) is { } ticket)
            {
                return new ValueTask<GateTicket>(ticket);
            }

            waiter = new GateWaiter(provider, weight, priority, ++_sequence, now) { CancellationToken = cancellationToken };
            if (_queuedCount < _options.QueueCapacity)
            {
                EnqueueLocked(waiter);
            }
            else
            {
                switch (_options.QueueFullMode)
                {
                    case QueueFullMode.Reject:
                        waiter.State = WaiterState.Ended;
                        rejected = true;
                        CountDropLocked(provider, DropReason.Rejected, ref drops);
                        break;
                    case QueueFullMode.DropOldest:
                        DropLocked(_arrivals.First!.Value, DropReason.DroppedOldest, ref drops);
                        EnqueueLocked(waiter);
                        break;
                    case QueueFullMode.DropNewest:
                        DropLocked(_arrivals.Last!.Value, DropReason.DroppedNewest, ref drops);
                        EnqueueLocked(waiter);
                        break;
                    default:
                        waiter.State = WaiterState.Overflow;
                        waiter.Node = _overflow.AddLast(waiter);
                        GateTelemetry.Waiting.Add(1, provider.Tags);
                        break;
                }
            }

            DispatchLocked(now);
        }

        ReportDrops(drops);
        if (rejected)
        {
            return ValueTask.FromException<GateTicket>(new ItemDroppedException(DropReason.Rejected));
        }

        return WaitAsync(waiter, cancellationToken);
    }

    private async ValueTask<GateTicket> WaitAsync(GateWaiter waiter, CancellationToken cancellationToken)
    {
        // Registered outside the lock: a token cancelled meanwhile runs the callback here, and the callback takes the lock.
        var registration = cancellationToken.UnsafeRegister(static s => ((GateWaiter)s!).Provider.Gate!.OnWaiterCancelled((GateWaiter)s!), waiter);
        try
        {
            await waiter.Completion.Task.ConfigureAwait(false);
        }
        finally
        {
            await registration.DisposeAsync().ConfigureAwait(false);
        }

        return waiter.Ticket!;
    }

    private void OnWaiterCancelled(GateWaiter waiter)
    {
        lock (_lock)
        {
            if (waiter.State is WaiterState.Admitted or WaiterState.Ended)
            {
                return;
            }

            RemoveWaitingLocked(waiter);
            waiter.Completion.TrySetCanceled(waiter.CancellationToken);
            var now = Now();
            PromoteOverflowLocked();
            DispatchLocked(now);
        }
    }

    private void Release(GateTicket ticket)
    {
        var provider = ticket.Provider;
        lock (_lock)
        {
            if (!provider.IsDisposed)
            {
                var now = Now();
                provider.ScheduleReturn(ticket, now);
                ArmTimerLocked(provider, now);
            }

            // The counters drop before the concurrency permit is handed back, both under the lock: freeing the permit
            // first let another call be admitted and counted before this one was uncounted, so the in-flight
            // statistics and gauge over-reported (peak 5-6 with a limit of 4). Disposing the lease runs no user code.
            provider.InFlight--;
            _inFlight--;
            GateTelemetry.InFlight.Add(-1, provider.Tags);
            ticket.Concurrency.Dispose();
            DispatchLocked(Now());
            SignalIfDrainedLocked();
        }
    }

    private void OnThrottled(GateProvider provider, TimeSpan? retryAfter)
    {
        var pause = retryAfter ?? _options.DefaultThrottlePause;
        if (pause > _options.MaxThrottlePause)
        {
            pause = _options.MaxThrottlePause;
        }

        lock (_lock)
        {
            provider.Throttled++;
            _throttled++;
            GateTelemetry.Throttled.Add(1, provider.Tags);
            if (!provider.IsDisposed)
            {
                PauseLocked(provider, pause, Now());
            }
        }
    }

    private void PauseLocked(GateProvider provider, TimeSpan duration, TimeSpan now)
    {
        var until = now + duration;
        if (until <= provider.PausedUntil || duration <= TimeSpan.Zero)
        {
            return;
        }

        var added = until - (provider.PausedUntil > now ? provider.PausedUntil : now);
        provider.TotalPause += added;
        provider.PausedUntil = until;
        GateTelemetry.PauseDuration.Add(added.TotalSeconds, provider.Tags);
        ArmTimerLocked(provider, now);
    }

    private void OnProviderTimer(GateProvider provider)
    {
        lock (_lock)
        {
            if (provider.IsDisposed)
            {
                return;
            }

            var now = Now();
            provider.TimerDueAt = Timeout.InfiniteTimeSpan;
            provider.ReturnDuePermits(now);
            ArmTimerLocked(provider, now);
            DispatchLocked(now);
        }
    }

    private void ArmTimerLocked(GateProvider provider, TimeSpan now)
    {
        var next = provider.NextWakeAt(now);
        if (next == Timeout.InfiniteTimeSpan || (provider.TimerDueAt != Timeout.InfiniteTimeSpan && provider.TimerDueAt <= next))
        {
            return;
        }

        // Due strictly in the future: a zero due time could run the callback inline (FakeTimeProvider does), re-entering this lock.
        var due = next - now;
        if (due <= TimeSpan.Zero)
        {
            due = TimeSpan.FromTicks(1);
        }

        provider.TimerDueAt = now + due;
        provider.Timer!.Change(due, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Admits waiting calls while a concurrency permit is free and some provider can take its best call.</summary>
    private void DispatchLocked(TimeSpan now)
    {
        while (_queuedCount > 0 && _inFlight < _options.MaxConcurrency)
        {
            GateWaiter? best = null;
            foreach (var provider in _providerList)
            {
                if (provider.Waiting.Min is { } head && provider.CanAdmit(head.Weight, now)
                    && (best is null || GateWaiterComparer.Instance.Compare(head, best) < 0))
                {
                    best = head;
                }
            }

            if (best is null || TryAdmitLocked(best.Provider, best.Weight, now) is not { } ticket)
            {
                return;
            }

            RemoveWaitingLocked(best);
            best.State = WaiterState.Admitted;
            best.Ticket = ticket;
            GateTelemetry.WaitDuration.Record((now - best.EnqueuedAt).TotalSeconds, best.Provider.Tags);
            best.Completion.TrySetResult();
            PromoteOverflowLocked();
        }
    }

    private GateTicket? TryAdmitLocked(GateProvider provider, int weight, TimeSpan now)
    {
        var lease = _concurrency.AttemptAcquire(1);
        if (!lease.IsAcquired)
        {
            lease.Dispose();
            return null;
        }

        var ticket = new GateTicket(provider, lease);
        provider.TakePermits(ticket, weight, now);
        ArmTimerLocked(provider, now);
        provider.InFlight++;
        provider.Admitted++;
        _inFlight++;
        _admitted++;
        if (_inFlight > _peakInFlight)
        {
            _peakInFlight = _inFlight;
        }

        GateTelemetry.InFlight.Add(1, provider.Tags);
        GateTelemetry.Admitted.Add(1, provider.Tags);
        return ticket;
    }

    private void EnqueueLocked(GateWaiter waiter)
    {
        waiter.State = WaiterState.Queued;
        waiter.Node = _arrivals.AddLast(waiter);
        waiter.Provider.Waiting.Add(waiter);
        _queuedCount++;
        GateTelemetry.Waiting.Add(1, waiter.Provider.Tags);
    }

    private void RemoveWaitingLocked(GateWaiter waiter)
    {
        if (waiter.State == WaiterState.Queued)
        {
            _arrivals.Remove(waiter.Node!);
            waiter.Provider.Waiting.Remove(waiter);
            _queuedCount--;
        }
        else if (waiter.State == WaiterState.Overflow)
        {
            _overflow.Remove(waiter.Node!);
        }

        waiter.Node = null;
        waiter.State = WaiterState.Ended;
        GateTelemetry.Waiting.Add(-1, waiter.Provider.Tags);
        SignalIfDrainedLocked();
    }

    private void PromoteOverflowLocked()
    {
        while (_queuedCount < _options.QueueCapacity && _overflow.First is { } node)
        {
            var waiter = node.Value;
            _overflow.Remove(node);
            waiter.State = WaiterState.Queued;
            waiter.Node = _arrivals.AddLast(waiter);
            waiter.Provider.Waiting.Add(waiter);
            _queuedCount++;
        }
    }

    private void DropLocked(GateWaiter waiter, DropReason reason, ref List<(string Provider, DropReason Reason)>? drops)
    {
        RemoveWaitingLocked(waiter);
        CountDropLocked(waiter.Provider, reason, ref drops);
        waiter.Completion.TrySetException(new ItemDroppedException(reason));
    }

    private void CountDropLocked(GateProvider provider, DropReason reason, ref List<(string Provider, DropReason Reason)>? drops)
    {
        provider.Dropped++;
        _dropped++;
        GateTelemetry.Rejected.Add(1, new TagList
        {
            { TelemetryTagNames.Name, _options.Name },
            { TelemetryTagNames.Provider, provider.Name },
            { TelemetryTagNames.DropReason, reason.ToString() },
        });
        (drops ??= []).Add((provider.Name, reason));
    }

    private void ReportDrops(List<(string Provider, DropReason Reason)>? drops)
    {
        if (drops is null || _options.OnDropped is not { } onDropped)
        {
            return;
        }

        foreach (var (provider, reason) in drops)
        {
            onDropped(provider, reason);
        }
    }

    private void SignalIfDrainedLocked()
    {
        if (_disposing && _activeCalls == 0 && _inFlight == 0 && _queuedCount == 0 && _overflow.Count == 0)
        {
            _drained.TrySetResult();
        }

        // Calls disposing the gate from inside: done once every other call has ended, or once the callers hold every
        // permit (the other calls can only start after them).
        if (_othersDrained is { } othersDrained
            && (_activeCalls <= _selfDisposers || (_inFlight <= _selfDisposers && _inFlight >= _options.MaxConcurrency)))
        {
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }
    }

    private GateProvider GetProviderLocked(string name)
    {
        if (_providers.TryGetValue(name, out var provider))
        {
            return provider;
        }

        var limits = _options.Providers.TryGetValue(name, out var configured) ? configured : _options.DefaultLimits;
        provider = new GateProvider(name, limits, _options.Name) { Gate = this };
        var p = provider;
        provider.Timer = _time.CreateTimer(_ => OnProviderTimer(p), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _providers.Add(name, provider);
        _providerList.Add(provider);
        return provider;
    }

    private TimeSpan Now() => _time.GetElapsedTime(_startTimestamp);

    private static void Validate(HttpGateOptions options)
    {
        var validator = new OptionsValidator(nameof(HttpGateOptions))
            .RequireNotNull(options.Name, nameof(HttpGateOptions.Name))
            .RequirePositive(options.MaxConcurrency, nameof(HttpGateOptions.MaxConcurrency))
            .RequirePositive(options.QueueCapacity, nameof(HttpGateOptions.QueueCapacity))
            .RequireDefined(options.QueueFullMode, nameof(HttpGateOptions.QueueFullMode))
            .RequirePositive(options.DefaultThrottlePause, nameof(HttpGateOptions.DefaultThrottlePause))
            .RequirePositive(options.MaxThrottlePause, nameof(HttpGateOptions.MaxThrottlePause))
            .RequirePositiveOrInfinite(options.DrainTimeout, nameof(HttpGateOptions.DrainTimeout))
            .RequireNotNull(options.TimeProvider, nameof(HttpGateOptions.TimeProvider))
            .RequireNotNull(options.DefaultLimits, nameof(HttpGateOptions.DefaultLimits));
        if (options.DefaultLimits is not null)
        {
            ValidateLimits(options.DefaultLimits, nameof(HttpGateOptions.DefaultLimits), validator);
        }

        foreach (var (name, limits) in options.Providers)
        {
            var prefix = $"{nameof(HttpGateOptions.Providers)}[\"{name}\"]";
            validator.RequireNotNull(limits, prefix);
            if (limits is not null)
            {
                ValidateLimits(limits, prefix, validator);
            }
        }

        if (options.HttpClient is null)
        {
            validator.RequireNotNull(options.ClientOptions, nameof(HttpGateOptions.ClientOptions));
            if (options.ClientOptions is not null)
            {
                PooledHttpClient.Validate(options.ClientOptions, validator);
            }
        }

        validator.ThrowIfInvalid();
    }

    private static void ValidateLimits(ProviderLimits limits, string prefix, OptionsValidator validator) =>
        validator
            .Require(limits.RequestLimit is null or > 0, prefix + "." + nameof(ProviderLimits.RequestLimit), limits.RequestLimit, "must be greater than zero or null")
            .RequirePositive(limits.RequestPeriod, prefix + "." + nameof(ProviderLimits.RequestPeriod))
            .Require(limits.WeightLimit is null or > 0, prefix + "." + nameof(ProviderLimits.WeightLimit), limits.WeightLimit, "must be greater than zero or null")
            .RequirePositive(limits.WeightPeriod, prefix + "." + nameof(ProviderLimits.WeightPeriod));
}
