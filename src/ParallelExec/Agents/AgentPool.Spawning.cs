using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <content>
/// Starting agents: how many to spawn (demand from waiting requests, <see cref="AgentPoolOptions.MinIdle"/>, warm-ups),
/// the bound on spawns at once, the factory call off every caller's stack, the shared context, and what a finished spawn
/// changes (a new agent serves the queue; a failure goes to the request that waited longest).
/// </content>
public sealed partial class AgentPool<TAgent>
{
    // Marks the async flow of a spawn (the factory and the shared-context loader it calls) as this pool's: a DisposeAsync
    // called from there must not wait, because the disposal waits for that very spawn.
    private readonly SpawnScope _spawnScope;
    private readonly TaskCompletionSource _spawnsDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guarded by _gate. A planned spawn is pending until one of the MaxConcurrentSpawns places is free, then running: the
    // bound is these two counters, so a spawn waiting for its turn holds no thread, task or semaphore.
    private readonly List<WarmUpWaiter> _warmUps = [];
    private int _spawnsPending;
    private int _spawnsRunning;
    private bool _refillSuspended;
    private Task<object?>? _sharedContextLoad;
    private long _spawned;
    private long _spawnFailures;
    private long _spawnSequence;

    private int SpawningLocked => _spawnsPending + _spawnsRunning;

    /// <summary>
    /// Spawns agents in parallel (bounded by <see cref="AgentPoolOptions.MaxConcurrentSpawns"/>) until at least
    /// <paramref name="agentCount"/> are live and ready, and returns when they are.
    /// </summary>
    /// <param name="agentCount">How many live agents to have; at most <see cref="AgentPoolOptions.MaxAgents"/>.</param>
    /// <param name="cancellationToken">Cancels the wait (the spawns go on and their agents join the pool).</param>
    /// <returns>A task that completes when the agents are ready.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="agentCount"/> is not between 1 and <see cref="AgentPoolOptions.MaxAgents"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool has been disposed.</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
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
            _lifecycle.ThrowIfNotOpen(Name);
            var live = _agents.Count + SpawningLocked;
            _spawnsPending += Math.Max(0, Math.Min(agentCount - live, _options.MaxAgents - live - _retiringBusy));
            _refillSuspended = false;
            spawns = ClaimSpawnsLocked();
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

    /// <summary>Plans the spawns the pool needs now and claims the places to start them in.</summary>
    /// <returns>How many spawns to start (with <see cref="StartSpawns"/>, after releasing the lock).</returns>
    private int PlanSpawnsLocked()
    {
        if (_stopped)
        {
            return 0;
        }

        var spawning = SpawningLocked;
        var total = _agents.Count + spawning + _retiringBusy;
        var spawns = 0;

        // Demand: requests waiting beyond what the agents already starting will serve.
        var demand = _queue.Count - (spawning * _perAgent);
        while (demand > 0 && total < _options.MaxAgents)
        {
            spawns++;
            total++;
            demand -= _perAgent;
        }

        // Pre-warming: keep MinIdle agents idle or on their way. Suspended after a failed spawn (until one succeeds or
        // WarmUpAsync asks again) so that a broken factory does not spin, and once intake has stopped.
        if (_lifecycle.IsOpen && !_refillSuspended)
        {
            var idleSoon = _idle + spawning + spawns;
            while (idleSoon < _options.MinIdle && total < _options.MaxAgents)
            {
                spawns++;
                idleSoon++;
                total++;
            }
        }

        _spawnsPending += spawns;
        return ClaimSpawnsLocked();
    }

    /// <summary>Moves pending spawns to running, up to <see cref="AgentPoolOptions.MaxConcurrentSpawns"/>.</summary>
    private int ClaimSpawnsLocked()
    {
        var start = Math.Min(_spawnsPending, _options.MaxConcurrentSpawns - _spawnsRunning);
        _spawnsPending -= start;
        _spawnsRunning += start;
        return start;
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
        AmbientComponent<SpawnScope>.Current = _spawnScope;
        using var span = Telemetry.StartSpan("parallelexec.agents.spawn", Name);
        span?.SetTag(TelemetryTagNames.AgentKind, _options.Spec.Kind);
        TAgent? agent = null;
        Exception? error = null;
        var name = _options.Spec.Name;
        var token = _stopTokenSource.Token;
        try
        {
            token.ThrowIfCancellationRequested();
            var context = await GetSharedContextAsync(token).ConfigureAwait(false);
            name = $"{_options.Spec.Name}-{Interlocked.Increment(ref _spawnSequence)}";
            var started = _time.GetTimestamp();
            agent = await _factory.CreateAsync(_options.Spec.WithInstance(name, context), token).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The agent factory {_factory.GetType().Name} returned null.");
            if (_agentInstruments.SpawnDuration.Enabled)
            {
                _agentInstruments.SpawnDuration.Record(_time.GetElapsedTime(started).TotalSeconds, _reporter.NameTag);
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        if (agent is not null && _stopTokenSource.IsCancellationRequested)
        {
            // Started after the pool began to stop: stop it before the pool reports itself stopped.
            await StopAgentAsync(agent).ConfigureAwait(false);
            agent = null;
        }

        if (OnSpawnCompleted(agent, error, name) is { } spawnError)
        {
            Telemetry.RecordFailure(span, spawnError);
        }
    }

    /// <summary>Adds a new agent (serving the queue at once) or hands a failure to the request that waited longest.</summary>
    /// <returns>The spawn's failure, if it failed (a spawn cancelled by the pool's stop is no failure).</returns>
    private AgentSpawnException? OnSpawnCompleted(TAgent? agent, Exception? error, string name)
    {
        AgentSpawnException? spawnError = null;
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
            _spawnsRunning--;
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

                // The failure goes to the request that has waited longest: it is the one this spawn would have served. It
                // moves into flight and its caller ends it as failed (or a resilience pipeline tries again).
                if (_queue.RemoveFirst() is { } first)
                {
                    failedWaiter = first;
                    _ledger.Start();
                    DispatchLocked(ref handoffs);
                }

                foreach (var warmUp in _warmUps)
                {
                    if (_agents.Count + SpawningLocked < warmUp.Target)
                    {
                        (warmUpsFailed ??= []).Add(warmUp);
                    }
                }
            }

            spawns = PlanSpawnsLocked();
            SignalLocked();
            AssertInvariants();
        }

        if (agent is not null && lateAgent is null)
        {
            _agentInstruments.Spawned.Add(1, _reporter.NameTag);
        }
        else if (spawnError is not null)
        {
            _agentInstruments.SpawnFailures.Add(1, _reporter.NameTag);
        }

        if (lateAgent is not null)
        {
            _ = RetireAsync(lateAgent, lateRetirement!);
        }

        HandOff(handoffs);
        failedWaiter?.Completion.TrySetException(spawnError!);
        warmUpsReady?.ForEach(w => w.Completion.TrySetResult());
        warmUpsFailed?.ForEach(w => w.Completion.TrySetException(spawnError!));
        StartSpawns(spawns);
        return spawnError;
    }

    /// <summary>
    /// The context shared by every agent: loaded once for the whole pool, however many agents spawn at the same time. A
    /// spawn that joined a load which failed tries its own, so a failed load is tried again as before by each spawn.
    /// </summary>
    private async ValueTask<object?> GetSharedContextAsync(CancellationToken cancellationToken)
    {
        if (_options.SharedContextFactory is not { } load)
        {
            return _options.Spec.SharedContext;
        }

        while (true)
        {
            TaskCompletionSource<object?>? mine = null;
            Task<object?> loading;
            lock (_gate)
            {
                if (_sharedContextLoad is null || _sharedContextLoad.IsFaulted || _sharedContextLoad.IsCanceled)
                {
                    mine = new TaskCompletionSource<object?>(TaskCreationOptions.RunContinuationsAsynchronously);
                    _sharedContextLoad = mine.Task;
                }

                loading = _sharedContextLoad;
            }

            if (mine is not null)
            {
                try
                {
                    mine.SetResult(await load(cancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex)
                {
                    mine.SetException(ex);
                }
            }

            try
            {
                return await loading.ConfigureAwait(false);
            }
            catch (Exception) when (mine is null && !cancellationToken.IsCancellationRequested)
            {
                // Another spawn's load failed: this spawn tries its own.
            }
        }
    }

    /// <summary>The marker of this pool's spawn flows (see <see cref="AmbientComponent{TComponent}"/>).</summary>
    private sealed class SpawnScope;

    private sealed class WarmUpWaiter(int target)
    {
        public readonly int Target = target;
        public readonly TaskCompletionSource Completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
