using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Net;

// Locking: one lock, _lock, guards the lifecycle, the ledger, both wait lists, the provider table and every field of
// GateProvider, GateWaiter (but its task source) and GateTicket, and the counters below it. Under it: bookkeeping,
// window permits (ConcurrencyLimiter runs no user code), arming timers (never due at once, so never inline) and
// completing task sources that run their continuations asynchronously. Never under it: the user's calls, the
// resilience pipeline, HTTP, OnDropped, metric recordings (listeners are user code), awaiting.
//
// Files: this one holds the public surface and the invariants; HttpGate.Calls.cs one call from submission to its end;
// HttpGate.Admission.cs the wait queue and admission; HttpGate.Providers.cs the providers' windows, pauses and timers;
// HttpGate.Throttling.cs the Retry-After feedback; HttpGate.Lifecycle.cs Complete, Completion and disposal;
// HttpGate.Coalescing.cs the coalescers built on the gate.

/// <summary>
/// An admission gate for outgoing calls: at most <see cref="HttpGateOptions.MaxDegreeOfParallelism"/> calls in flight,
/// each provider held to its request and weight limits, waiting calls admitted by priority, a bounded wait queue, and
/// throttling answers (429, or 503 with <c>Retry-After</c>) pausing only the provider that gave them.
/// </summary>
/// <remarks>
/// <para>
/// Calls go through <see cref="SendAsync"/> (HTTP, over the gate's shared pooled <see cref="Client"/>) or
/// <see cref="RunAsync{T}"/> (any call, such as an SDK client's). Each names its provider, the partition whose limits it
/// counts against, and may carry a weight (for example the tokens a model call is estimated to use) and a priority.
/// </para>
/// <para>
/// Admission: a call starts when a concurrency slot is free and its provider is not paused and has room in its
/// request and weight windows. Among the calls that could start, the highest priority goes first (arrival order among
/// equals). Within one provider the best waiting call holds its place, so a heavy call is not starved by lighter ones;
/// a provider that is paused or out of permits never holds up the others.
/// </para>
/// <para>
/// Ledger: every call ends exactly once for its caller, with its result, its exception, an
/// <see cref="OperationCanceledException"/> (a cancelled waiting call leaves the queue at once), or an
/// <see cref="ItemDroppedException"/> from the queue policy or the drain timeout. A call the gate refused, evicted or
/// cut by the drain timeout is also reported to <see cref="HttpGateOptions.OnDropped"/>.
/// </para>
/// <para>
/// Lifecycle: <see cref="Complete"/> stops intake (later calls throw <see cref="InvalidOperationException"/>) while
/// accepted calls, and their retries, still run; <see cref="Completion"/> ends when they all have;
/// <see cref="DisposeAsync"/> does the same, then cancels what is left after <see cref="ComponentOptions.DrainTimeout"/>.
/// </para>
/// <para>
/// Telemetry: the standard <c>parallelexec.http.*</c> instruments (calls submitted, failed, dropped by reason, queue
/// length, in flight, wait and run durations), and per provider <c>parallelexec.http.admitted</c>,
/// <c>parallelexec.http.throttled</c> and <c>parallelexec.http.pause.duration</c>. Each call is a
/// <c>parallelexec.http.call</c> span, a child of the caller's, tagged with its provider.
/// </para>
/// </remarks>
[DebuggerDisplay("HttpGate {Name}: waiting = {_ledger.Queued}, in flight = {_running}")]
public sealed partial class HttpGate : IExecComponent, IInstrumentedComponent
{
    private const string CallSpanName = "parallelexec.http.call";

    private readonly HttpGateOptions _options;
    private readonly TimeProvider _time;
    private readonly long _startTimestamp;
    private readonly bool _ownsClient;
    private readonly CancellationTokenSource _shutdown = new();
    private readonly ComponentInstruments _instruments;
    private readonly GateTelemetry _telemetry;
    private readonly ItemReporter _reporter;

    private readonly object _lock = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly ItemLedger _ledger = new();
    private readonly Dictionary<string, GateProvider> _providers = new(StringComparer.Ordinal);
    private readonly List<GateProvider> _providerList = [];

    // Waiting attempts in arrival order, at most QueueCapacity: these may be admitted (each is also in its provider's
    // priority set). In Wait mode, attempts beyond the capacity wait for room in _waitingForRoom, first come first in.
    private readonly WaitList<GateWaiter> _queue = new();
    private readonly WaitList<GateWaiter> _waitingForRoom = new();
    private long _sequence;

    // Attempts holding a concurrency slot now, and the most at once; attempts ever admitted; throttling answers seen.
    private int _running;
    private int _peakRunning;
    private long _admitted;
    private long _throttled;

    // Set once the drain timeout has passed: waiting attempts were dropped, running ones cancelled, retries refused.
    private bool _deadlinePassed;

    /// <summary>Creates a gate from options; the options are validated and copied.</summary>
    /// <param name="options">The settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every invalid option.</exception>
    public HttpGate(HttpGateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _time = _options.TimeProvider;
        _startTimestamp = _time.GetTimestamp();
        _instruments = ComponentInstruments.Get("http", _options.MeterFactory);
        _telemetry = GateTelemetry.Get(_instruments);
        _reporter = new ItemReporter(_options.Name, _time, _instruments, _options.OnDropped, onError: null);
        if (_options.HttpClient is { } client)
        {
            Client = client;
        }
        else
        {
            var clientOptions = _options.ClientOptions;
            clientOptions.MaxConnectionsPerServer = _options.MaxDegreeOfParallelism;
            clientOptions.AllowAutoRedirect = false; // The gate follows redirects itself, by RedirectPolicy.
            Client = PooledHttpClient.Create(clientOptions);
            _ownsClient = true;
        }

        _instruments.Live.Add(this);
    }

    /// <summary>Gets the shared client <see cref="SendAsync"/> uses; callers may use it for calls that need no gate.</summary>
    public HttpClient Client { get; }

    /// <summary>Gets the gate's name (<see cref="ComponentOptions.Name"/>), which tags its metrics, spans and drop reports.</summary>
    public string Name => _options.Name;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <summary>
    /// Sends an HTTP request through the gate on the shared <see cref="Client"/>, and through the resilience pipeline.
    /// </summary>
    /// <param name="provider">The provider whose limits the call counts against.</param>
    /// <param name="requestFactory">Creates the request; called once per attempt, because a request cannot be sent twice.</param>
    /// <param name="weight">The call's weight against the provider's weight limit (for example estimated tokens).</param>
    /// <param name="priority">Higher goes first among waiting calls.</param>
    /// <param name="cancellationToken">Cancels the wait (removing the call from the queue) or the running call.</param>
    /// <returns>The response, its content buffered (at most <see cref="HttpGateOptions.MaxResponseContentLength"/> bytes,
    /// after decompression), after the redirects <see cref="HttpGateOptions.RedirectPolicy"/> follows; a redirect it does
    /// not follow comes back as it is. A 429 (or 503 with <c>Retry-After</c>) pauses the provider and fails the attempt
    /// with <see cref="ProviderThrottledException"/>; with <see cref="HttpGateOptions.ResponseResiliencePipeline"/> set it
    /// comes back as the attempt's result instead, for the pipeline's result-based strategies.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="requestFactory"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is negative or above the provider's weight limit.</exception>
    /// <exception cref="ProviderThrottledException">The provider throttled the call and the pipeline did not retry it (or gave up).</exception>
    /// <exception cref="HttpRequestException">The request failed, or the response content was longer than
    /// <see cref="HttpGateOptions.MaxResponseContentLength"/> (<see cref="HttpRequestException.HttpRequestError"/> is
    /// <see cref="HttpRequestError.ConfigurationLimitExceeded"/> and the message names the limit).</exception>
    /// <exception cref="ItemDroppedException">The full wait queue refused or evicted the call, or the drain timeout cut it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public Task<HttpResponseMessage> SendAsync(
        string provider,
        Func<HttpRequestMessage> requestFactory,
        int weight = 1,
        int priority = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requestFactory);
        var typed = _options.ResponseResiliencePipeline;
        return RunCoreAsync(
            provider,
            requestFactory,
            (Gate: this, Provider: provider, Factory: requestFactory, ThrottleAsResult: typed is not null),
            static (state, token) => state.Gate.SendOnceAsync(state.Provider, state.Factory, state.ThrottleAsResult, token),
            weight,
            priority,
            typed,
            cancellationToken);
    }

    /// <summary>Runs any call through the gate and through the resilience pipeline.</summary>
    /// <typeparam name="T">The call's result.</typeparam>
    /// <param name="provider">The provider whose limits the call counts against.</param>
    /// <param name="call">The call; it receives a token cancelled when the caller cancels or the gate's drain timeout
    /// passes. Throw <see cref="ProviderThrottledException"/> from it to report throttling: the gate pauses the provider.</param>
    /// <param name="weight">The call's weight against the provider's weight limit (for example estimated tokens).</param>
    /// <param name="priority">Higher goes first among waiting calls.</param>
    /// <param name="cancellationToken">Cancels the wait (removing the call from the queue) or the running call.</param>
    /// <returns>The call's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="provider"/> or <paramref name="call"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="weight"/> is negative or above the provider's weight limit.</exception>
    /// <exception cref="ItemDroppedException">The full wait queue refused or evicted the call, or the drain timeout cut it.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException">The gate is disposed.</exception>
    public Task<T> RunAsync<T>(
        string provider,
        Func<CancellationToken, ValueTask<T>> call,
        int weight = 1,
        int priority = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        return RunCoreAsync(provider, call, call, static (c, token) => c(token), weight, priority, typedPipeline: null, cancellationToken);
    }

    /// <summary>Takes a snapshot of the gate (its ledger of calls) and of every provider it has seen.</summary>
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

            return new HttpGateStatistics(Name, _ledger.Snapshot(), _admitted, _throttled, _peakRunning, providers);
        }
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return _ledger.Snapshot();
        }
    }

    private TimeSpan Now() => _time.GetElapsedTime(_startTimestamp);

    /// <summary>Checks the gate's invariants; called under the lock wherever its state changes (Debug builds only).</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(Monitor.IsEntered(_lock), "The invariants are read under the lock.");
        _ledger.AssertBalanced();
        Debug.Assert(_queue.Count <= _options.QueueCapacity, $"{_queue.Count} waiting calls in a queue of {_options.QueueCapacity}.");
        Debug.Assert(_waitingForRoom.Count == 0 || _queue.Count == _options.QueueCapacity, "A call waits for room while the queue has some.");
        Debug.Assert(_ledger.Queued == _queue.Count + _waitingForRoom.Count, $"Ledger queued {_ledger.Queued}, listed {_queue.Count} + {_waitingForRoom.Count}.");
        Debug.Assert(_running >= 0 && _running <= _options.MaxDegreeOfParallelism, $"{_running} attempts hold a slot of {_options.MaxDegreeOfParallelism}.");
        Debug.Assert(_running <= _ledger.InFlight, $"{_running} attempts run for {_ledger.InFlight} calls in flight.");
        var waiting = 0;
        var running = 0;
        foreach (var provider in _providerList)
        {
            waiting += provider.Waiting.Count;
            running += provider.InFlight;
        }

        Debug.Assert(waiting == _queue.Count, $"The providers hold {waiting} waiting calls, the queue {_queue.Count}.");
        Debug.Assert(running == _running, $"The providers run {running} attempts, the gate counts {_running}.");
    }
}
