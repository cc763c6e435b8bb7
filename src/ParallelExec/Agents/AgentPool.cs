using System.Diagnostics;
using Polly;

namespace ParallelExec.Agents;

/// <summary>
/// A pool of agents: spawns them in parallel (bounded), lazily or pre-warmed, balances requests over them, removes and
/// replaces crashed or unhealthy ones, recycles them after a number of uses or an idle time, and stops every one of them
/// when disposed.
/// </summary>
/// <typeparam name="TAgent">The type of agent the pool holds.</typeparam>
/// <remarks>
/// <para>
/// A request (<see cref="RunAsync"/>, <see cref="RunWithAffinityAsync"/>, <see cref="ExecuteAsync{TResult}"/>) takes
/// one unit of an agent's capacity (<see cref="AgentPoolOptions.MaxConcurrencyPerAgent"/>) for its duration. When every
/// agent is busy the caller waits in a bounded FIFO queue (<see cref="AgentPoolOptions.QueueCapacity"/>, whose full
/// mode is <see cref="AgentPoolOptions.QueueFullMode"/>), and the pool spawns agents for the waiting callers up to
/// <see cref="AgentPoolOptions.MaxAgents"/>, at most <see cref="AgentPoolOptions.MaxConcurrentSpawns"/> at a time,
/// always in the background so that no caller runs a factory.
/// </para>
/// <para>
/// Every request ends exactly once: with its agent's response, with the exception its agent threw (or an
/// <see cref="AgentSpawnException"/> when the spawn it waited for failed), cancelled, or dropped
/// (<see cref="ItemDroppedException"/>, reported to <see cref="AgentPoolOptions.OnDropped"/> and the metrics).
/// </para>
/// <para>
/// Concurrency: all state lives under one lock, which never runs user code (factories, agents, callbacks, metric
/// listeners run outside it). Waiting callers are completed after the lock is released, with asynchronous
/// continuations.
/// </para>
/// </remarks>
[DebuggerDisplay("{Name}: Agents = {_agents.Count}, Spawning = {_spawning}, InFlight = {_inFlight}, Queue = {_waiters.Count}")]
public sealed class AgentPool<TAgent> : IAsyncDisposable, IAgentPoolGauges
    where TAgent : class, IAgent
{
    private static readonly Func<TAgent, string, CancellationToken, ValueTask<string>> SendRequest =
        static (agent, request, cancellationToken) => agent.SendAsync(request, cancellationToken);

    // Marks the async flow of a request's operation (and the agent's SendAsync) as this pool's, so that DisposeAsync can
    // tell it is called from inside a request. Set where the operation is called; undone when that async method returns.
    private static readonly AsyncLocal<AgentPool<TAgent>?> s_currentPool = new();

    // Marks the async flow of a spawn (the factory and the shared-context factory it calls) as this pool's: a
    // DisposeAsync called from there must not wait, because the disposal waits for that very spawn. Set once per spawn.
    private static readonly AsyncLocal<AgentPool<TAgent>?> s_spawningPool = new();

    private readonly IAgentFactory<TAgent> _factory;
    private readonly AgentPoolOptions _options;
    private readonly TimeProvider _time;
    private readonly int _perAgent;
    private readonly KeyValuePair<string, object?> _nameTag;

    // Everything below is guarded by _gate.
    private readonly object _gate = new();
    private readonly List<Slot> _agents = [];
    private readonly LinkedList<Waiter> _waiters = new();
    private readonly Dictionary<string, Slot> _affinity = new(StringComparer.Ordinal);
    private readonly List<WarmUpWaiter> _warmUps = [];
    private readonly List<Task> _retirements = [];

    private readonly SemaphoreSlim _spawnThrottle;
    private readonly SemaphoreSlim? _queueRoom;
    private readonly SemaphoreSlim _contextGate = new(1, 1);
    private readonly CancellationTokenSource _stopTokenSource = new();
    private readonly CancellationTokenSource _abortTokenSource = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _spawnsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ITimer? _idleTimer;

    private object? _sharedContext;
    private bool _sharedContextLoaded;
    private int _spawning;
    private int _idle;
    private int _busy;
    private int _retiringBusy;
    private int _inFlight;
    private int _freeCapacity;
    private int _roundRobin;
    private long _spawnSequence;
    private bool _refillSuspended;
    private bool _disposing;
    private bool _stopped;
    private TaskCompletionSource? _disposeCompletion;

    // Self-disposal (DisposeAsync called from inside a request): how many such calls wait, and the task they return.
    private int _selfDisposers;
    private TaskCompletionSource? _othersDrained;

    private long _spawned;
    private long _spawnFailures;
    private long _crashes;
    private long _recycled;
    private long _succeeded;
    private long _failed;
    private long _cancelled;
    private long _dropped;
    private int _pendingCrashMetric;
    private int _pendingRecycleMetric;

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
        _nameTag = AgentTelemetry.NameTag(copy.Name);
        _spawnThrottle = new SemaphoreSlim(copy.MaxConcurrentSpawns, copy.MaxConcurrentSpawns);
        _queueRoom = copy.QueueFullMode == QueueFullMode.Wait ? new SemaphoreSlim(copy.QueueCapacity, copy.QueueCapacity) : null;
        if (copy.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            var period = copy.IdleTimeout / 2;
            if (period < TimeSpan.FromMilliseconds(1))
            {
                period = TimeSpan.FromMilliseconds(1);
            }

            _idleTimer = _time.CreateTimer(static state => ((AgentPool<TAgent>)state!).OnIdleTimer(), this, period, period);
        }

        AgentTelemetry.Register(this);

        int spawns;
        lock (_gate)
        {
            spawns = PlanSpawnsLocked();
        }

        StartSpawns(spawns);
    }

    /// <summary>Gets the pool's name (<see cref="AgentPoolOptions.Name"/>).</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Sends <paramref name="request"/> to an agent picked by the pool's load-balancing strategy and returns the response.
    /// </summary>
    /// <param name="request">The request.</param>
    /// <param name="cancellationToken">Cancels the wait for an agent or the request itself.</param>
    /// <returns>The agent's response.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the dispose deadline passed.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    /// <exception cref="AgentCrashedException">The agent crashed before it replied (and no resilience pipeline retried).</exception>
    /// <exception cref="AgentException">The agent replied with an error.</exception>
    public ValueTask<string> RunAsync(string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return RunCoreAsync(SendRequest, request, affinityKey: null, request, cancellationToken);
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
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the dispose deadline passed.</exception>
    /// <exception cref="AgentSpawnException">The agent spawned for this request could not start.</exception>
    /// <exception cref="AgentCrashedException">The agent crashed before it replied (and no resilience pipeline retried).</exception>
    /// <exception cref="AgentException">The agent replied with an error.</exception>
    public ValueTask<string> RunWithAffinityAsync(string affinityKey, string request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(affinityKey);
        ArgumentNullException.ThrowIfNull(request);
        return RunCoreAsync(SendRequest, request, affinityKey, request, cancellationToken);
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
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ItemDroppedException">The wait queue was full and its mode dropped or rejected the request, or the dispose deadline passed.</exception>
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
            request: null,
            cancellationToken);
    }

    /// <summary>
    /// Spawns agents in parallel (bounded by <see cref="AgentPoolOptions.MaxConcurrentSpawns"/>) until at least
    /// <paramref name="agentCount"/> are live and ready, and returns when they are.
    /// </summary>
    /// <param name="agentCount">How many live agents to have; at most <see cref="AgentPoolOptions.MaxAgents"/>.</param>
    /// <param name="cancellationToken">Cancels the wait (the spawns go on and their agents join the pool).</param>
    /// <returns>A task that completes when the agents are ready.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="agentCount"/> is not between 1 and <see cref="AgentPoolOptions.MaxAgents"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="AgentSpawnException">A spawn failed and the count can no longer be reached.</exception>
    public async Task WarmUpAsync(int agentCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(agentCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(agentCount, _options.MaxAgents);

        WarmUpWaiter? waiter = null;
        int spawns;
        lock (_gate)
        {
            ThrowIfDisposingLocked();
            var total = _agents.Count + _spawning + _retiringBusy;
            spawns = Math.Max(0, Math.Min(agentCount - (_agents.Count + _spawning), _options.MaxAgents - total));
            _spawning += spawns;
            _refillSuspended = false;
            if (_agents.Count < agentCount)
            {
                waiter = new WarmUpWaiter(agentCount);
                _warmUps.Add(waiter);
            }
        }

        StartSpawns(spawns);
        if (waiter is null)
        {
            return;
        }

        try
        {
            await waiter.Completion.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _warmUps.Remove(waiter);
            }
        }
    }

    /// <summary>Takes a cheap snapshot of the pool's state and counters.</summary>
    /// <returns>The snapshot.</returns>
    public AgentPoolStatistics GetStatistics()
    {
        lock (_gate)
        {
            return new AgentPoolStatistics
            {
                Agents = _agents.Count,
                Idle = _idle,
                Busy = _busy,
                Spawning = _spawning,
                InFlight = _inFlight,
                QueueLength = _waiters.Count,
                Spawned = _spawned,
                SpawnFailures = _spawnFailures,
                Crashes = _crashes,
                Recycled = _recycled,
                Succeeded = Interlocked.Read(ref _succeeded),
                Failed = Interlocked.Read(ref _failed),
                Cancelled = Interlocked.Read(ref _cancelled),
                Dropped = Interlocked.Read(ref _dropped),
            };
        }
    }

    /// <summary>
    /// Stops intake (later calls throw <see cref="ObjectDisposedException"/>), lets queued and in-flight requests finish
    /// (until <see cref="AgentPoolOptions.DisposeTimeout"/>, after which queued ones are dropped and running ones
    /// cancelled), then stops every agent, including those still starting. Idempotent: every call returns the same task.
    /// </summary>
    /// <returns>A task that completes when every agent has been stopped (called from inside a request of this pool: when
    /// the other requests have ended, see the remarks).</returns>
    /// <remarks>
    /// <para><b>Called from inside a request.</b> An operation of <see cref="ExecuteAsync{TResult}"/> (or an agent's
    /// <see cref="IAgent.SendAsync"/>, or anything on their async flow) that awaits the pool's disposal would wait for its
    /// own request forever. Such a call is detected (an <see cref="AsyncLocal{T}"/> set around each request's operation)
    /// and behaves differently in one point only: it starts the disposal as usual (intake stops, queued requests are
    /// served, <see cref="AgentPoolOptions.DisposeTimeout"/> applies to every request, the caller's included), but the
    /// task it returns completes once every request in flight has ended except the requests waiting in such a
    /// <c>DisposeAsync</c> (counted per call, so that two requests disposing the pool at once do not wait for each
    /// other), and no queued request can still be served without them (nothing queued, or no agent starting). The
    /// agents are stopped in the background once the calling requests have ended too.</para>
    /// <para><b>Called from an agent factory</b> (or anything on the async flow of a spawn, such as
    /// <see cref="AgentPoolOptions.SharedContextFactory"/>): the disposal waits for every spawn in flight, the calling one
    /// included, so such a call starts the disposal and returns a completed task at once; the agent being created joins
    /// the pool's stop like any agent that finishes starting during disposal.</para>
    /// <para>Calls from outside (the first or later ones) return the full disposal: it completes only when every
    /// request, the ones that called <c>DisposeAsync</c> included, has ended and every agent has been stopped.</para>
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        var fromSpawn = ReferenceEquals(s_spawningPool.Value, this);
        var fromInside = !fromSpawn && ReferenceEquals(s_currentPool.Value, this);
        TaskCompletionSource? started = null;
        Task disposal;
        Task? othersDrained = null;
        lock (_gate)
        {
            if (_disposeCompletion is null)
            {
                _disposeCompletion = started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _disposing = true;
            }

            disposal = _disposeCompletion.Task;
            if (fromInside)
            {
                _selfDisposers++;
                othersDrained = (_othersDrained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
            }

            SignalLocked();
        }

        var stopping = started is null ? disposal : DisposeCoreAsync(started);

        // From an agent factory: the disposal waits for the spawn that called it, so waiting here could never end.
        return fromSpawn ? default : new ValueTask(othersDrained ?? stopping);
    }

    (int Idle, int Busy, int QueueLength) IAgentPoolGauges.ReadGauges()
    {
        lock (_gate)
        {
            return (_idle, _busy, _waiters.Count);
        }
    }

    private async ValueTask<TResult> RunCoreAsync<TState, TResult>(
        Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation,
        TState state,
        string? affinityKey,
        string? request,
        CancellationToken cancellationToken)
    {
        try
        {
            TResult result;
            if (_options.ResiliencePipeline is { } pipeline)
            {
                result = await pipeline.ExecuteAsync(
                    static (attempt, token) => attempt.Pool.RunAttemptAsync(attempt.Operation, attempt.State, attempt.AffinityKey, attempt.Request, token),
                    new Attempt<TState, TResult>(this, operation, state, affinityKey, request),
                    cancellationToken).ConfigureAwait(false);
            }
            else
            {
                result = await RunAttemptAsync(operation, state, affinityKey, request, cancellationToken).ConfigureAwait(false);
            }

            Interlocked.Increment(ref _succeeded);
            return result;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _cancelled);
            throw;
        }
        catch (Exception ex) when (ex is not ItemDroppedException)
        {
            Interlocked.Increment(ref _failed);
            throw;
        }
    }

    private async ValueTask<TResult> RunAttemptAsync<TState, TResult>(
        Func<TAgent, TState, CancellationToken, ValueTask<TResult>> operation,
        TState state,
        string? affinityKey,
        string? request,
        CancellationToken cancellationToken)
    {
        // An agent can die while idle; such an agent is removed before use. The bound only stops a factory that keeps
        // producing dead agents from spinning forever.
        var unhealthyBudget = (_options.MaxAgents * 2) + 2;
        while (true)
        {
            var slot = await AcquireAsync(affinityKey, request, cancellationToken).ConfigureAwait(false);
            if (!IsHealthy(slot.Agent))
            {
                Release(slot, healthy: false);
                if (--unhealthyBudget == 0)
                {
                    throw new AgentCrashedException(slot.Agent.Id, null, $"Agent pool '{Name}' found no healthy agent: its agents kept reporting themselves unhealthy.", null);
                }

                continue;
            }

            CancellationTokenSource? linked = null;
            var token = _abortTokenSource.Token;
            if (cancellationToken.CanBeCanceled)
            {
                linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abortTokenSource.Token);
                token = linked.Token;
            }

            if (!ReferenceEquals(s_currentPool.Value, this))
            {
                s_currentPool.Value = this;
            }

            try
            {
                var result = await operation(slot.Agent, state, token).ConfigureAwait(false);
                Release(slot, IsHealthy(slot.Agent));
                return result;
            }
            catch (Exception ex)
            {
                Release(slot, ex is not AgentCrashedException && IsHealthy(slot.Agent));
                throw;
            }
            finally
            {
                linked?.Dispose();
            }
        }
    }

    private ValueTask<Slot> AcquireAsync(string? affinityKey, string? request, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Slot>(cancellationToken);
        }

        Slot? slot;
        Waiter? waiter = null;
        Waiter? evicted = null;
        var evictReason = DropReason.Rejected;
        var rejected = false;
        var spawns = 0;
        lock (_gate)
        {
            ThrowIfDisposingLocked();
            slot = PickLocked(affinityKey);
            if (slot is not null)
            {
                TakeLocked(slot);

                // Taking an idle agent may leave the pool below MinIdle: the refill starts now, in the background.
                spawns = _options.MinIdle > 0 ? PlanSpawnsLocked() : 0;
            }
            else if (_queueRoom is null)
            {
                if (_waiters.Count >= _options.QueueCapacity)
                {
                    switch (_options.QueueFullMode)
                    {
                        case QueueFullMode.DropOldest:
                            evicted = _waiters.First!.Value;
                            evictReason = DropReason.DroppedOldest;
                            break;
                        case QueueFullMode.DropNewest:
                            evicted = _waiters.Last!.Value;
                            evictReason = DropReason.DroppedNewest;
                            break;
                        default:
                            rejected = true;
                            break;
                    }

                    if (evicted is not null)
                    {
                        RemoveWaiterLocked(evicted);
                        _dropped++;
                    }
                }

                if (!rejected)
                {
                    waiter = EnqueueLocked(affinityKey, request, holdsRoom: false);
                    spawns = PlanSpawnsLocked();
                }
                else
                {
                    _dropped++;
                }
            }
        }

        FlushMetrics();
        if (slot is not null)
        {
            StartSpawns(spawns);
            return new ValueTask<Slot>(slot);
        }

        if (evicted is not null)
        {
            Drop(evicted, evictReason);
        }

        if (rejected)
        {
            ReportDrop(request, DropReason.Rejected);
            return ValueTask.FromException<Slot>(new ItemDroppedException(DropReason.Rejected));
        }

        if (waiter is null)
        {
            return AcquireWithRoomAsync(affinityKey, request, cancellationToken);
        }

        StartSpawns(spawns);
        return WaitForAgentAsync(waiter, cancellationToken);
    }

    private async ValueTask<Slot> AcquireWithRoomAsync(string? affinityKey, string? request, CancellationToken cancellationToken)
    {
        // QueueFullMode.Wait: a place in the bounded queue is a semaphore permit; the waiter holds it until it leaves
        // the queue (served, cancelled or dropped at the dispose deadline).
        await _queueRoom!.WaitAsync(cancellationToken).ConfigureAwait(false);
        Slot? slot = null;
        Waiter? waiter = null;
        int spawns;
        try
        {
            lock (_gate)
            {
                ThrowIfDisposingLocked();
                slot = PickLocked(affinityKey);
                if (slot is not null)
                {
                    TakeLocked(slot);
                }
                else
                {
                    waiter = EnqueueLocked(affinityKey, request, holdsRoom: true);
                }

                spawns = PlanSpawnsLocked();
            }
        }
        finally
        {
            if (waiter is null)
            {
                _queueRoom.Release();
            }
        }

        FlushMetrics();
        StartSpawns(spawns);
        if (slot is not null)
        {
            return slot;
        }

        return await WaitForAgentAsync(waiter!, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<Slot> WaitForAgentAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        if (cancellationToken.CanBeCanceled)
        {
            waiter.Registration = cancellationToken.UnsafeRegister(
                static (state, token) => ((Waiter)state!).Pool.CancelWaiter((Waiter)state!, token), waiter);
        }

        try
        {
            var slot = await waiter.Completion.Task.ConfigureAwait(false);
            if (AgentTelemetry.QueueWait.Enabled)
            {
                AgentTelemetry.QueueWait.Record(_time.GetElapsedTime(started).TotalSeconds, _nameTag);
            }

            return slot;
        }
        finally
        {
            await waiter.Registration.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void CancelWaiter(Waiter waiter, CancellationToken cancellationToken)
    {
        bool removed;
        lock (_gate)
        {
            removed = waiter.Node is not null;
            if (removed)
            {
                RemoveWaiterLocked(waiter);
                SignalLocked();
            }
        }

        if (removed)
        {
            ReleaseRoom(waiter);
            waiter.Completion.TrySetCanceled(cancellationToken);
        }
    }

    private void Release(Slot slot, bool healthy)
    {
        List<(Waiter, Slot)>? handoffs = null;
        TaskCompletionSource? retirement = null;
        int spawns;
        lock (_gate)
        {
            slot.InFlight--;
            _inFlight--;
            slot.LastReleased = _time.GetTimestamp();
            if (slot.Removed)
            {
                if (slot.InFlight == 0)
                {
                    _retiringBusy--;
                }
            }
            else
            {
                _freeCapacity++;
                if (slot.InFlight == 0)
                {
                    _busy--;
                    _idle++;
                }

                if (!healthy)
                {
                    RemoveLocked(slot, crashed: true);
                }
            }

            if (slot.Removed && slot.InFlight == 0 && !slot.Retired)
            {
                slot.Retired = true;
                retirement = RegisterRetirementLocked();
            }

            DispatchLocked(ref handoffs);
            spawns = PlanSpawnsLocked();
            SignalLocked();
        }

        FlushMetrics();
        if (retirement is not null)
        {
            _ = RetireAsync(slot.Agent, retirement);
        }

        HandOff(handoffs);
        StartSpawns(spawns);
    }

    private Waiter EnqueueLocked(string? affinityKey, string? request, bool holdsRoom)
    {
        var waiter = new Waiter(this, affinityKey, request, holdsRoom);
        waiter.Node = _waiters.AddLast(waiter);
        return waiter;
    }

    private void RemoveWaiterLocked(Waiter waiter)
    {
        _waiters.Remove(waiter.Node!);
        waiter.Node = null;
    }

    private Slot? PickLocked(string? affinityKey)
    {
        if (affinityKey is not null && _affinity.TryGetValue(affinityKey, out var bound))
        {
            return bound.InFlight < _perAgent ? bound : null;
        }

        if (_freeCapacity == 0)
        {
            return null;
        }

        var chosen = _options.LoadBalancing switch
        {
            LoadBalancingStrategy.RoundRobin => PickRoundRobinLocked(),
            LoadBalancingStrategy.PowerOfTwoChoices => PickPowerOfTwoLocked(),
            _ => PickLeastBusyLocked(),
        };

        if (chosen is not null && affinityKey is not null)
        {
            BindLocked(affinityKey, chosen);
        }

        return chosen;
    }

    private Slot? PickLeastBusyLocked()
    {
        Slot? best = null;
        foreach (var slot in _agents)
        {
            if (slot.InFlight < _perAgent && (best is null || IsLessBusy(slot, best)))
            {
                best = slot;
            }
        }

        return best;
    }

    private Slot? PickRoundRobinLocked()
    {
        var count = _agents.Count;
        for (var i = 0; i < count; i++)
        {
            var index = (_roundRobin + i) % count;
            var slot = _agents[index];
            if (slot.InFlight < _perAgent)
            {
                _roundRobin = (index + 1) % count;
                return slot;
            }
        }

        return null;
    }

    private Slot? PickPowerOfTwoLocked()
    {
        var count = _agents.Count;
        if (count <= 2)
        {
            return PickLeastBusyLocked();
        }

        var first = Random.Shared.Next(count);
        var second = Random.Shared.Next(count - 1);
        if (second >= first)
        {
            second++;
        }

        var a = _agents[first];
        var b = _agents[second];
        var aFree = a.InFlight < _perAgent;
        var bFree = b.InFlight < _perAgent;
        if (aFree && bFree)
        {
            return IsLessBusy(b, a) ? b : a;
        }

        if (aFree)
        {
            return a;
        }

        // Neither draw has room: fall back to a scan rather than make the caller wait while another agent is free.
        return bFree ? b : PickLeastBusyLocked();
    }

    private static bool IsLessBusy(Slot candidate, Slot current) =>
        candidate.InFlight < current.InFlight || (candidate.InFlight == current.InFlight && candidate.Uses < current.Uses);

    private void BindLocked(string affinityKey, Slot slot)
    {
        if (_affinity.Count >= _options.MaxAffinityKeys)
        {
            // Bounded memory: forget one binding. A forgotten key simply binds anew on its next request.
            foreach (var (key, owner) in _affinity)
            {
                _affinity.Remove(key);
                owner.Keys?.Remove(key);
                break;
            }
        }

        _affinity[affinityKey] = slot;
        (slot.Keys ??= new HashSet<string>(StringComparer.Ordinal)).Add(affinityKey);
    }

    private void TakeLocked(Slot slot)
    {
        if (slot.InFlight == 0)
        {
            _idle--;
            _busy++;
        }

        slot.InFlight++;
        slot.Uses++;
        _freeCapacity--;
        _inFlight++;
        if (_options.MaxUses > 0 && slot.Uses >= _options.MaxUses)
        {
            // Its last use is taken: no new request may pick it, and it stops once its requests finish.
            RemoveLocked(slot, crashed: false);
        }
    }

    private void RemoveLocked(Slot slot, bool crashed)
    {
        if (slot.Removed)
        {
            return;
        }

        slot.Removed = true;
        _agents.Remove(slot);
        _freeCapacity -= _perAgent - slot.InFlight;
        if (slot.InFlight == 0)
        {
            _idle--;
        }
        else
        {
            _busy--;
            _retiringBusy++;
        }

        if (slot.Keys is { } keys)
        {
            foreach (var key in keys)
            {
                _affinity.Remove(key);
            }

            keys.Clear();
        }

        if (crashed)
        {
            _crashes++;
            _pendingCrashMetric++;
        }
        else
        {
            _recycled++;
            _pendingRecycleMetric++;
        }
    }

    private void DispatchLocked(ref List<(Waiter, Slot)>? handoffs)
    {
        var node = _waiters.First;
        while (node is not null && _freeCapacity > 0)
        {
            var next = node.Next;
            var waiter = node.Value;
            var slot = PickLocked(waiter.AffinityKey);
            if (slot is not null)
            {
                RemoveWaiterLocked(waiter);
                TakeLocked(slot);
                (handoffs ??= []).Add((waiter, slot));
            }

            node = next;
        }
    }

    private int PlanSpawnsLocked()
    {
        if (_stopped)
        {
            return 0;
        }

        var total = _agents.Count + _spawning + _retiringBusy;
        var spawns = 0;

        // Demand: callers waiting beyond what the agents already starting will serve.
        var demand = _waiters.Count - (_spawning * _perAgent);
        while (demand > 0 && total < _options.MaxAgents)
        {
            spawns++;
            total++;
            demand -= _perAgent;
        }

        // Pre-warming: keep MinIdle agents idle or on their way. Suspended after a failed spawn (until one succeeds or
        // WarmUpAsync asks again) so that a broken factory does not spin.
        if (!_disposing && !_refillSuspended)
        {
            var idleSoon = _idle + _spawning + spawns;
            while (idleSoon < _options.MinIdle && total < _options.MaxAgents)
            {
                spawns++;
                idleSoon++;
                total++;
            }
        }

        _spawning += spawns;
        return spawns;
    }

    private void StartSpawns(int count)
    {
        for (var i = 0; i < count; i++)
        {
            // Always on the thread pool: no caller ever runs a factory, even a synchronous one.
            _ = Task.Run(SpawnOneAsync);
        }
    }

    private async Task SpawnOneAsync()
    {
        s_spawningPool.Value = this;
        TAgent? agent = null;
        Exception? error = null;
        var name = _options.Spec.Name;
        var token = _stopTokenSource.Token;
        try
        {
            await _spawnThrottle.WaitAsync(token).ConfigureAwait(false);
            try
            {
                var context = await GetSharedContextAsync(token).ConfigureAwait(false);
                name = $"{_options.Spec.Name}-{Interlocked.Increment(ref _spawnSequence)}";
                var started = _time.GetTimestamp();
                agent = await _factory.CreateAsync(_options.Spec.WithInstance(name, context), token).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"The agent factory {_factory.GetType().Name} returned null.");
                if (AgentTelemetry.SpawnDuration.Enabled)
                {
                    AgentTelemetry.SpawnDuration.Record(_time.GetElapsedTime(started).TotalSeconds, _nameTag);
                }
            }
            finally
            {
                _spawnThrottle.Release();
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (agent is not null && _stopTokenSource.IsCancellationRequested)
        {
            // Started after the pool began to stop: stop it before the pool reports itself stopped.
            await DisposeQuietlyAsync(agent).ConfigureAwait(false);
            agent = null;
        }

        OnSpawnCompleted(agent, error, name);
    }

    private void OnSpawnCompleted(TAgent? agent, Exception? error, string name)
    {
        Exception? spawnError = null;
        if (agent is null && error is not null && !(error is OperationCanceledException && _stopTokenSource.IsCancellationRequested))
        {
            spawnError = error as AgentSpawnException
                ?? new AgentSpawnException(name, $"Starting agent '{name}' of pool '{Name}' failed: {error.Message}", error);
        }

        List<(Waiter, Slot)>? handoffs = null;
        List<WarmUpWaiter>? warmUpsReady = null;
        List<WarmUpWaiter>? warmUpsFailed = null;
        Waiter? failedWaiter = null;
        TAgent? lateAgent = null;
        TaskCompletionSource? lateRetirement = null;
        int spawns;
        lock (_gate)
        {
            _spawning--;
            if (agent is not null)
            {
                if (_stopped)
                {
                    lateAgent = agent;
                    lateRetirement = RegisterRetirementLocked();
                }
                else
                {
                    _agents.Add(new Slot(agent) { LastReleased = _time.GetTimestamp() });
                    _idle++;
                    _freeCapacity += _perAgent;
                    _spawned++;
                    _refillSuspended = false;
                    DispatchLocked(ref handoffs);
                    foreach (var warmUp in _warmUps)
                    {
                        if (_agents.Count >= warmUp.Target)
                        {
                            (warmUpsReady ??= []).Add(warmUp);
                        }
                    }
                }
            }
            else if (spawnError is not null)
            {
                _spawnFailures++;
                _refillSuspended = true;

                // The failure goes to the caller who has waited longest: it is the one this spawn would have served.
                if (_waiters.First is { } first)
                {
                    failedWaiter = first.Value;
                    RemoveWaiterLocked(failedWaiter);
                }

                foreach (var warmUp in _warmUps)
                {
                    if (_agents.Count + _spawning < warmUp.Target)
                    {
                        (warmUpsFailed ??= []).Add(warmUp);
                    }
                }
            }

            spawns = PlanSpawnsLocked();
            SignalLocked();
        }

        if (agent is not null && lateAgent is null)
        {
            AgentTelemetry.Spawned.Add(1, _nameTag);
        }
        else if (spawnError is not null)
        {
            AgentTelemetry.SpawnFailures.Add(1, _nameTag);
        }

        if (lateAgent is not null)
        {
            _ = RetireAsync(lateAgent, lateRetirement!);
        }

        HandOff(handoffs);
        if (failedWaiter is not null)
        {
            ReleaseRoom(failedWaiter);
            failedWaiter.Completion.TrySetException(spawnError!);
        }

        warmUpsReady?.ForEach(w => w.Completion.TrySetResult());
        warmUpsFailed?.ForEach(w => w.Completion.TrySetException(spawnError!));
        StartSpawns(spawns);
    }

    private async ValueTask<object?> GetSharedContextAsync(CancellationToken cancellationToken)
    {
        if (_options.SharedContextFactory is not { } load)
        {
            return _options.Spec.SharedContext;
        }

        if (Volatile.Read(ref _sharedContextLoaded))
        {
            return _sharedContext;
        }

        // Loaded once for the whole pool, however many agents spawn at the same time; a failed load is tried again by
        // the next spawn.
        await _contextGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_sharedContextLoaded)
            {
                _sharedContext = await load(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _sharedContextLoaded, true);
            }

            return _sharedContext;
        }
        finally
        {
            _contextGate.Release();
        }
    }

    private void OnIdleTimer()
    {
        List<(Slot, TaskCompletionSource)>? expired = null;
        int spawns;
        lock (_gate)
        {
            if (_disposing)
            {
                return;
            }

            var now = _time.GetTimestamp();
            for (var i = _agents.Count - 1; i >= 0; i--)
            {
                var slot = _agents[i];
                if (slot.InFlight == 0 && _time.GetElapsedTime(slot.LastReleased, now) >= _options.IdleTimeout)
                {
                    RemoveLocked(slot, crashed: false);
                    slot.Retired = true;
                    (expired ??= []).Add((slot, RegisterRetirementLocked()));
                }
            }

            spawns = PlanSpawnsLocked();
        }

        FlushMetrics();
        expired?.ForEach(e => _ = RetireAsync(e.Item1.Agent, e.Item2));
        StartSpawns(spawns);
    }

    private void HandOff(List<(Waiter Waiter, Slot Slot)>? handoffs)
    {
        if (handoffs is null)
        {
            return;
        }

        foreach (var (waiter, slot) in handoffs)
        {
            ReleaseRoom(waiter);
            waiter.Completion.TrySetResult(slot);
        }
    }

    private void ReleaseRoom(Waiter waiter)
    {
        if (waiter.HoldsRoom)
        {
            waiter.HoldsRoom = false;
            _queueRoom!.Release();
        }
    }

    private void Drop(Waiter waiter, DropReason reason)
    {
        ReleaseRoom(waiter);
        ReportDrop(waiter.Request, reason);
        waiter.Completion.TrySetException(new ItemDroppedException(reason));
    }

    private void ReportDrop(string? request, DropReason reason)
    {
        AgentTelemetry.Dropped.Add(1, _nameTag, new KeyValuePair<string, object?>(TelemetryTagNames.DropReason, reason));
        if (_options.OnDropped is { } onDropped)
        {
            try
            {
                onDropped(request, reason);
            }
            catch (Exception)
            {
                // A failing callback must not break the pool or hide the drop from the caller, who still gets it.
            }
        }
    }

    private void FlushMetrics()
    {
        if ((Volatile.Read(ref _pendingCrashMetric) | Volatile.Read(ref _pendingRecycleMetric)) == 0)
        {
            return;
        }

        int crashes;
        int recycled;
        lock (_gate)
        {
            crashes = _pendingCrashMetric;
            recycled = _pendingRecycleMetric;
            _pendingCrashMetric = 0;
            _pendingRecycleMetric = 0;
        }

        if (crashes > 0)
        {
            AgentTelemetry.Crashes.Add(crashes, _nameTag);
        }

        if (recycled > 0)
        {
            AgentTelemetry.Recycled.Add(recycled, _nameTag);
        }
    }

    /// <summary>
    /// Records, under the lock, that an agent is about to be stopped, so that <see cref="DisposeAsync"/> (which snapshots
    /// the records under the same lock) always waits for it even when the stop itself starts after the lock is released.
    /// </summary>
    private TaskCompletionSource RegisterRetirementLocked()
    {
        var retirement = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _retirements.RemoveAll(static t => t.IsCompleted);
        _retirements.Add(retirement.Task);
        return retirement;
    }

    private static async Task RetireAsync(TAgent agent, TaskCompletionSource retirement)
    {
        await DisposeQuietlyAsync(agent).ConfigureAwait(false);
        retirement.TrySetResult();
    }

    private static async Task DisposeQuietlyAsync(TAgent agent)
    {
        try
        {
            await agent.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Stopping an agent is best effort: a failure to stop one must not stop the others.
        }
    }

    private static bool IsHealthy(TAgent agent)
    {
        try
        {
            return agent.IsHealthy;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private void SignalLocked()
    {
        if (_disposing && _waiters.Count == 0 && _inFlight == 0)
        {
            _drained.TrySetResult();
        }

        // Requests disposing the pool from inside: done once every other request has ended and no queued request can be
        // served without them (an agent starting would serve it; without one, only a caller's agent can).
        if (_othersDrained is { } othersDrained && _inFlight <= _selfDisposers && (_waiters.Count == 0 || _spawning == 0))
        {
            othersDrained.TrySetResult();
            _othersDrained = null;
            _selfDisposers = 0;
        }

        if (_stopped && _spawning == 0)
        {
            _spawnsDone.TrySetResult();
        }
    }

    private void ThrowIfDisposingLocked()
    {
        ObjectDisposedException.ThrowIf(_disposing, this);
    }

    private async Task DisposeCoreAsync(TaskCompletionSource completion)
    {
        try
        {
            _idleTimer?.Dispose();
            await DrainAsync().ConfigureAwait(false);

            await _stopTokenSource.CancelAsync().ConfigureAwait(false);
            List<Slot> slots;
            List<WarmUpWaiter> warmUps;
            lock (_gate)
            {
                _stopped = true;
                slots = [.. _agents];
                _agents.Clear();
                _affinity.Clear();
                _idle = 0;
                _busy = 0;
                _freeCapacity = 0;
                warmUps = [.. _warmUps];
                _warmUps.Clear();
                SignalLocked();
            }

            var disposed = new ObjectDisposedException(GetType().FullName);
            warmUps.ForEach(w => w.Completion.TrySetException(disposed));

            // Agents still starting finish (or are cancelled) and stop themselves; then every agent is stopped at once.
            await _spawnsDone.Task.ConfigureAwait(false);
            var stops = new List<Task>(slots.Count);
            foreach (var slot in slots)
            {
                stops.Add(DisposeQuietlyAsync(slot.Agent));
            }

            lock (_gate)
            {
                stops.AddRange(_retirements);
                _retirements.Clear();
            }

            await Task.WhenAll(stops).ConfigureAwait(false);
        }
        finally
        {
            AgentTelemetry.Unregister(this);
            completion.TrySetResult();
        }
    }

    private async Task DrainAsync()
    {
        if (_options.DisposeTimeout == Timeout.InfiniteTimeSpan)
        {
            await _drained.Task.ConfigureAwait(false);
            return;
        }

        using var deadline = new CancellationTokenSource();
        var timer = Task.Delay(_options.DisposeTimeout, _time, deadline.Token);
        if (await Task.WhenAny(_drained.Task, timer).ConfigureAwait(false) == _drained.Task)
        {
            await deadline.CancelAsync().ConfigureAwait(false);
            return;
        }

        // The deadline passed: queued requests are dropped, running ones cancelled.
        List<Waiter> dropped;
        lock (_gate)
        {
            dropped = [.. _waiters];
            foreach (var waiter in dropped)
            {
                RemoveWaiterLocked(waiter);
            }

            _dropped += dropped.Count;
            SignalLocked();
        }

        dropped.ForEach(waiter => Drop(waiter, DropReason.DrainTimeout));
        await _abortTokenSource.CancelAsync().ConfigureAwait(false);
        await _drained.Task.ConfigureAwait(false);
    }

    private sealed class Slot(TAgent agent)
    {
        public readonly TAgent Agent = agent;
        public int InFlight;
        public int Uses;
        public long LastReleased;
        public bool Removed;
        public bool Retired;
        public HashSet<string>? Keys;
    }

    private sealed class Waiter(AgentPool<TAgent> pool, string? affinityKey, string? request, bool holdsRoom)
    {
        public readonly AgentPool<TAgent> Pool = pool;
        public readonly string? AffinityKey = affinityKey;
        public readonly string? Request = request;
        public readonly TaskCompletionSource<Slot> Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public bool HoldsRoom = holdsRoom;
        public LinkedListNode<Waiter>? Node;
        public CancellationTokenRegistration Registration;
    }

    private sealed class WarmUpWaiter(int target)
    {
        public readonly int Target = target;
        public readonly TaskCompletionSource Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly record struct Attempt<TState, TResult>(
        AgentPool<TAgent> Pool,
        Func<TAgent, TState, CancellationToken, ValueTask<TResult>> Operation,
        TState State,
        string? AffinityKey,
        string? Request);
}
