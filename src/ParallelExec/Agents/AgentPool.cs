using System.Diagnostics;
using ParallelExec.Internal;
using Polly;

namespace ParallelExec.Agents;

// Locking: one lock, _gate, guards every mutable field below it (the agents and their slots, the wait queue and the
// overflow of callers waiting for room, the affinity map, the warm-up waiters, the retirement records, the spawn
// counters, the lifecycle and the ledger). No user code runs under it: agent factories, agents, the shared-context
// loader, OnDropped and metric listeners run after it is released, and every task completed under it runs its
// continuations asynchronously.
//
// The type is split by responsibility: AgentPool.Requests.cs (a request from call to end), AgentPool.Queue.cs (waiting
// for an agent: admission, the FIFO, cancellation, hand-off), AgentPool.Balancing.cs (which agent serves a request),
// AgentPool.Spawning.cs (starting agents, warm-up, the shared context), AgentPool.Health.cs (crashes, recycling, idle
// timeout, stopping agents) and AgentPool.Dispose.cs (Complete, DisposeAsync, draining, self-disposal).

/// <summary>
/// A pool of agents: spawns them in parallel (bounded), lazily or pre-warmed, balances requests over them, removes and
/// replaces crashed or unhealthy ones, recycles them after a number of uses or an idle time, and stops every one of them
/// when disposed.
/// </summary>
/// <typeparam name="TAgent">The type of agent the pool holds.</typeparam>
/// <remarks>
/// <para>
/// A request (<see cref="RunAsync"/>, <see cref="RunWithAffinityAsync"/>, <see cref="ExecuteAsync{TResult}(Func{TAgent, CancellationToken, ValueTask{TResult}}, string?, CancellationToken)"/>) takes
/// one unit of an agent's capacity (<see cref="AgentPoolOptions.MaxConcurrencyPerAgent"/>) for its duration. When every
/// agent is busy the request waits in a bounded FIFO queue (<see cref="AgentPoolOptions.QueueCapacity"/>, whose full
/// mode is <see cref="AgentPoolOptions.FullMode"/>), and the pool spawns agents for the waiting requests up to
/// <see cref="AgentPoolOptions.MaxAgents"/>, at most <see cref="AgentPoolOptions.MaxConcurrentSpawns"/> at a time,
/// always in the background so that no caller runs a factory.
/// </para>
/// <para>
/// Every request ends exactly once and is counted once in the ledger (<see cref="ComponentStatistics.Ledger"/>): with its
/// agent's response, with the exception its agent threw (or an <see cref="AgentSpawnException"/> when the spawn it waited
/// for failed), cancelled (its caller gets <see cref="OperationCanceledException"/>), or dropped
/// (<see cref="ItemDroppedException"/>, reported to <see cref="AgentPoolOptions.OnDropped"/> and the metrics).
/// </para>
/// <para>
/// Lifecycle: <see cref="Complete"/> stops intake, <see cref="Completion"/> ends when every accepted request has ended,
/// and <see cref="DisposeAsync"/> also stops every agent (see there).
/// </para>
/// </remarks>
[DebuggerDisplay("{Name}: Agents = {_agents.Count}, Spawning = {SpawningLocked}, InFlight = {_ledger.InFlight}, Queued = {_ledger.Queued}")]
public sealed partial class AgentPool<TAgent> : IExecComponent, IAgentPoolGauges
    where TAgent : class, IAgent
{
    private static readonly Func<TAgent, string, CancellationToken, ValueTask<string>> SendRequest =
        static (agent, request, cancellationToken) => agent.SendAsync(request, cancellationToken);

    private readonly IAgentFactory<TAgent> _factory;
    private readonly AgentPoolOptions _options;
    private readonly TimeProvider _time;
    private readonly int _perAgent;
    private readonly ResiliencePipeline? _pipeline;
    private readonly ComponentInstruments _instruments;
    private readonly AgentPoolInstruments _agentInstruments;
    private readonly ItemReporter _reporter;
    private readonly CancellationTokenSource _stopTokenSource = new();
    private readonly CancellationTokenSource _abortTokenSource = new();
    private readonly ITimer? _idleTimer;

    // Everything below is guarded by _gate.
    private readonly object _gate = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly ItemLedger _ledger = new();

    /// <summary>Creates a pool that spawns its agents with <paramref name="factory"/>.</summary>
    /// <param name="factory">Creates the agents.</param>
    /// <param name="options">The pool's options; validated and copied.</param>
    /// <exception cref="ArgumentNullException"><paramref name="factory"/> or <paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public AgentPool(IAgentFactory<TAgent> factory, AgentPoolOptions options)
    {
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        var copy = options.Clone();
        copy.Validate();

        _factory = factory;
        _options = copy;
        _time = copy.TimeProvider;
        _perAgent = copy.MaxConcurrencyPerAgent;
        _pipeline = copy.ResiliencePipeline;
        _spawnScope = new SpawnScope();
        _instruments = ComponentInstruments.Get(AgentPoolInstruments.Component, copy.MeterFactory);
        _agentInstruments = AgentPoolInstruments.Get(_instruments);
        _reporter = new ItemReporter(copy.Name, _time, _instruments, copy.OnDropped, onError: null);
        if (copy.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            var period = copy.IdleTimeout / 2;
            if (period < TimeSpan.FromMilliseconds(1))
            {
                period = TimeSpan.FromMilliseconds(1);
            }

            _idleTimer = _time.CreateTimer(static state => ((AgentPool<TAgent>)state!).OnIdleTimer(), this, period, period);
        }

        _instruments.Live.Add(this);

        int spawns;
        lock (_gate)
        {
            spawns = PlanSpawnsLocked();
        }

        StartSpawns(spawns);
    }

    /// <summary>Gets the pool's name (<see cref="ComponentOptions.Name"/>).</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Gets a task that completes when intake has stopped (<see cref="Complete"/> or <see cref="DisposeAsync"/>) and every
    /// accepted request has ended. It completes successfully even when requests failed or were dropped; the agents are
    /// stopped by <see cref="DisposeAsync"/>, not here.
    /// </summary>
    public Task Completion => _lifecycle.Completion;

    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <summary>
    /// Sends <paramref name="request"/> to an agent picked by the pool's load-balancing strategy and returns the response.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the wait for an agent or the request itself.</param>
    /// <returns>The agent's response.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the drain timeout of the disposal passed while the request ran.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the drain timeout passed while it waited.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    /// <exception cref="AgentCrashedException">The agent crashed before it replied (and no resilience pipeline retried).</exception>
    /// <exception cref="AgentException">The agent replied with an error.</exception>
    public ValueTask<string> RunAsync(string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return RunCoreAsync(SendRequest, request, affinityKey: null, request, _options.ResponseResiliencePipeline, cancellationToken);
    }

    /// <summary>
    /// Sends <paramref name="request"/> to the agent bound to <paramref name="affinityKey"/> (binding the key to an agent
    /// picked by the load-balancing strategy the first time) and returns the response. While that agent lives, every
    /// request with the same key goes to it and waits for it when it is busy.
    /// </summary>
    /// <param name="affinityKey">The key, for example a conversation or session id.</param>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the wait for an agent or the request itself.</param>
    /// <returns>The agent's response.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="affinityKey"/> or <paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the drain timeout of the disposal passed while the request ran.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the drain timeout passed while it waited.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    /// <exception cref="AgentCrashedException">The agent crashed before it replied (and no resilience pipeline retried).</exception>
    /// <exception cref="AgentException">The agent replied with an error.</exception>
    public ValueTask<string> RunWithAffinityAsync(string affinityKey, string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(affinityKey);
        ArgumentNullException.ThrowIfNull(request);
        return RunCoreAsync(SendRequest, request, affinityKey, request, _options.ResponseResiliencePipeline, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="operation"/> with an agent of the pool, for agents with a richer API than
    /// <see cref="IAgent.SendAsync"/>. The agent is the caller's for the duration of the operation (one unit of its
    /// capacity); the operation must not keep it afterwards.
    /// </summary>
    /// <typeparam name="TResult">The type of the operation's result.</typeparam>
    /// <param name="operation">The work to do with the agent.</param>
    /// <param name="affinityKey">An optional affinity key, as in <see cref="RunWithAffinityAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for an agent; passed on to the operation.</param>
    /// <returns>The operation's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="operation"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the drain timeout of the disposal passed while the operation ran.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the drain timeout passed while it waited.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    public ValueTask<TResult> ExecuteAsync<TResult>(
        Func<TAgent, CancellationToken, ValueTask<TResult>> operation,
        string? affinityKey = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        return RunCoreAsync<Func<TAgent, CancellationToken, ValueTask<TResult>>, TResult>(
            static (agent, op, token) => op(agent, token),
            operation,
            affinityKey,
            operation,
            typedPipeline: null,
            cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="operation"/> with an agent of the pool through <paramref name="pipeline"/>, a Polly pipeline of
    /// the operation's result type, so that result-based strategies (retry on a result, hedging) plug in. Each attempt
    /// acquires an agent anew; the pool's own pipelines do not apply to this call. Otherwise as
    /// <see cref="ExecuteAsync{TResult}(Func{TAgent, CancellationToken, ValueTask{TResult}}, string?, CancellationToken)"/>.
    /// </summary>
    /// <typeparam name="TResult">The type of the operation's result.</typeparam>
    /// <param name="operation">The work to do with the agent.</param>
    /// <param name="pipeline">The pipeline every attempt runs through.</param>
    /// <param name="affinityKey">An optional affinity key, as in <see cref="RunWithAffinityAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for an agent; passed on to the operation.</param>
    /// <returns>The result of the pipeline: the operation's last result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="operation"/> or <paramref name="pipeline"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or the drain timeout of the disposal passed while the operation ran.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the drain timeout passed while it waited.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    public ValueTask<TResult> ExecuteAsync<TResult>(
        Func<TAgent, CancellationToken, ValueTask<TResult>> operation,
        ResiliencePipeline<TResult> pipeline,
        string? affinityKey = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(operation);
        ArgumentNullException.ThrowIfNull(pipeline);
        return RunCoreAsync<Func<TAgent, CancellationToken, ValueTask<TResult>>, TResult>(
            static (agent, op, token) => op(agent, token),
            operation,
            affinityKey,
            operation,
            pipeline,
            cancellationToken);
    }

    /// <summary>Takes a cheap snapshot of the pool's ledger and agents.</summary>
    /// <returns>The snapshot.</returns>
    public AgentPoolStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new AgentPoolStatistics(Name, _ledger.Snapshot())
            {
                Agents = _agents.Count,
                Idle = _idle,
                Busy = _busy,
                Spawning = SpawningLocked,
                Spawned = _spawned,
                SpawnFailures = _spawnFailures,
                Crashes = _crashes,
                Recycled = _recycled,
                StopFailures = Interlocked.Read(ref _stopFailures),
            };
        }
    }

    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_gate)
        {
            return _ledger.Snapshot();
        }
    }

    (int Idle, int Busy) IAgentPoolGauges.ReadAgents()
    {
        lock (_gate)
        {
            return (_idle, _busy);
        }
    }

    /// <summary>Checks, in Debug builds and under the lock, that the counters agree with the collections they summarize.</summary>
    [Conditional("DEBUG")]
    private void AssertInvariants()
    {
        Debug.Assert(Monitor.IsEntered(_gate), "AssertInvariants runs under the pool's lock.");
        _ledger.AssertBalanced();
        Debug.Assert(_ledger.Queued == _queue.Count + _overflow.Count, $"Ledger queued {_ledger.Queued} != queue {_queue.Count} + overflow {_overflow.Count}.");
        Debug.Assert(_queue.Count <= _options.QueueCapacity, $"Queue {_queue.Count} over its capacity {_options.QueueCapacity}.");
        Debug.Assert(_overflow.Count == 0 || _options.FullMode == QueueFullMode.Wait, "Only QueueFullMode.Wait lets callers wait for room.");
        Debug.Assert(_idle + _busy == _agents.Count, $"Idle {_idle} + busy {_busy} != agents {_agents.Count}.");
        Debug.Assert(_spawnsRunning <= _options.MaxConcurrentSpawns && _spawnsPending >= 0, $"Spawns running {_spawnsRunning}, pending {_spawnsPending}.");
        var free = 0;
        foreach (var slot in _agents)
        {
            free += _perAgent - slot.InFlight;
        }

        Debug.Assert(free == _freeCapacity, $"Free capacity {_freeCapacity} != {free} counted over the agents.");
    }
}
