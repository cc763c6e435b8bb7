namespace ParallelExec.Scheduling;

/// <content>
/// The ready queue: which task runs next. Tasks become ready when their last dependency ends, wait in a priority heap
/// (explicit priority, then critical path, then readiness order), and are taken while fewer than
/// MaxDegreeOfParallelism run. Tasks added at run time are wired in here too. Every method named <c>*Locked</c> runs
/// under <c>_gate</c>.
/// </content>
public sealed partial class TaskGraphRun
{
    private readonly PriorityQueue<TaskNodeResult, ReadyKey> _ready = new();

    // The tasks ready at the start, sorted best first and consumed from _initialHead: a wide graph then costs one sort
    // (none when the order is already right) instead of a heap insertion and removal per task. Their ReadyKey sequence
    // is their position, so tasks that become ready later (sequence >= length) lose ties to them, as in the heap.
    private TaskNodeResult[] _initialReady = [];
    private int _initialHead;
    private long _readySequence;

    private int ReadyCountLocked => _ready.Count + (_initialReady.Length - _initialHead);

    /// <summary>Looks a dependency up for a task body. Only direct dependencies are readable: they have ended before it started.</summary>
    internal TaskNodeResult GetDependency(TaskNodeResult current, string taskId)
    {
        ArgumentNullException.ThrowIfNull(taskId);
        lock (_gate)
        {
            var index = IndexOfLocked(taskId);
            if (index >= 0 && Array.BinarySearch(current.Definition.DependencyIndices, index) >= 0)
            {
                return _nodes[index];
            }
        }

        throw new ArgumentException(
            $"Task '{taskId}' is not a dependency of task '{current.Id}': a task reads the results of its own dependencies only.",
            nameof(taskId));
    }

    /// <summary>Adds tasks from a running task, validated like a built graph.</summary>
    internal void AddTasks(TaskNodeResult parent, List<TaskDefinition> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        Exception? refused = null;
        List<TaskNodeResult>? skipped = null;
        TaskNodeResult[]? dispatch;
        lock (_gate)
        {
            if (parent.State != NodeState.Running)
            {
                throw new InvalidOperationException(
                    $"Task '{parent.Id}' has ended: a task can add tasks only while it runs.");
            }

            if (!_lifecycle.IsOpen)
            {
                refused = _lifecycle.CreateClosedException(Name);
            }
            else
            {
                try
                {
                    GraphValidator.Validate(batch, _nodes.Count, IndexOfLocked, $"set of tasks added by task '{parent.Id}'");
                }
                catch (TaskGraphValidationException exception)
                {
                    refused = exception;
                }
            }

            if (refused is null)
            {
                AddValidatedLocked(parent, batch, now, ref skipped);
            }

            dispatch = TakeForNewDispatchersLocked();
            AssertInvariants();
        }

        if (refused is not null)
        {
            throw refused;
        }

        _reporter.Instruments.Submitted.Add(batch.Count, _reporter.NameTag);
        Report(skipped);
        StartDispatchers(dispatch);
    }

    private void AddValidatedLocked(TaskNodeResult parent, List<TaskDefinition> batch, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        var first = _nodes.Count;
        _dynamicIds ??= new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var definition in batch)
        {
            definition.AddedBy = parent.Id;
            definition.AddedAt = now;
            _nodes.Add(definition.CreateNode());
            _ledger.Accept(queued: true);
            _dynamicIds.Add(definition.Id, definition.Index);
        }

        // Wire edges from tasks that already exist; edges inside the batch are in the definitions already.
        var skipReasons = new string?[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var node = _nodes[first + i];
            var pending = 0;
            foreach (var index in node.Definition.DependencyIndices)
            {
                if (index >= first)
                {
                    pending++;
                    continue;
                }

                var dependency = _nodes[index];
                if (dependency.State >= NodeState.Succeeded)
                {
                    if (dependency.State != NodeState.Succeeded && _policy == FailurePolicy.SkipDependents)
                    {
                        skipReasons[i] ??= $"Skipped because task '{dependency.Id}' did not succeed ({dependency.Status}).";
                    }
                }
                else
                {
                    pending++;
                    (dependency.ExtraDependents ??= []).Add(node.Definition.Index);
                }
            }

            node.PendingDependencies = pending;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var node = _nodes[first + i];
            if (node.State != NodeState.Waiting)
            {
                continue;
            }

            if (_stopReason is not null)
            {
                SkipLocked(node, _stopReason, now, ref skipped);
            }
            else if (skipReasons[i] is { } reason)
            {
                SkipLocked(node, reason, now, ref skipped);
                SkipDependentsLocked(node, reason, now, ref skipped);
            }
            else if (node.PendingDependencies == 0)
            {
                EnqueueReadyLocked(node);
            }
        }
    }

    private int IndexOfLocked(string taskId)
    {
        var index = _graph.IndexOf(taskId);
        if (index < 0 && _dynamicIds is not null && _dynamicIds.TryGetValue(taskId, out var dynamicIndex))
        {
            index = dynamicIndex;
        }

        return index;
    }

    private void ReleaseDependentsLocked(TaskNodeResult node)
    {
        foreach (var index in node.Definition.DependentIndices)
        {
            Release(_nodes[index]);
        }

        if (node.ExtraDependents is { } extra)
        {
            foreach (var index in extra)
            {
                Release(_nodes[index]);
            }
        }

        void Release(TaskNodeResult dependent)
        {
            if (--dependent.PendingDependencies == 0 && dependent.State == NodeState.Waiting)
            {
                EnqueueReadyLocked(dependent);
            }
        }
    }

    private void EnqueueReadyLocked(TaskNodeResult node)
    {
        node.State = NodeState.Ready;
        var definition = node.Definition;
        _ready.Enqueue(node, new ReadyKey(definition.Priority, definition.CriticalPath, _readySequence++));
    }

    private void PrepareInitialReadyLocked()
    {
        var ready = new TaskNodeResult[_graph.InitialReadyCount];
        var count = 0;
        var sorted = true;
        foreach (var node in _nodes)
        {
            if (node.PendingDependencies == 0 && node.State == NodeState.Waiting)
            {
                node.State = NodeState.Ready;
                ready[count] = node;
                if (count > 0 && InitialKey(ready[count - 1], 0).CompareTo(InitialKey(node, 1)) > 0)
                {
                    sorted = false;
                }

                count++;
            }
        }

        if (!sorted)
        {
            var keys = new ReadyKey[count];
            for (var i = 0; i < count; i++)
            {
                keys[i] = InitialKey(ready[i], i);
            }

            Array.Sort(keys, ready);
        }

        _initialReady = ready;
        _initialHead = 0;
        _readySequence = count;
    }

    private static ReadyKey InitialKey(TaskNodeResult node, long sequence) =>
        new(node.Definition.Priority, node.Definition.CriticalPath, sequence);

    private TaskNodeResult? TakeLocked()
    {
        if (_stopReason is not null || _ledger.InFlight >= _maxParallel)
        {
            return null;
        }

        TaskNodeResult node;
        var initialLeft = _initialHead < _initialReady.Length;
        if (initialLeft && (!_ready.TryPeek(out _, out var heapKey) || InitialKey(_initialReady[_initialHead], _initialHead).CompareTo(heapKey) <= 0))
        {
            node = _initialReady[_initialHead];
            _initialReady[_initialHead++] = null!;
        }
        else if (!_ready.TryDequeue(out node!, out _))
        {
            return null;
        }

        node.State = NodeState.Running;
        _ledger.Start();
        return node;
    }

    /// <summary>Takes a task for every free slot that a ready task can fill; each gets a new dispatcher.</summary>
    private TaskNodeResult[]? TakeForNewDispatchersLocked()
    {
        var free = (int)Math.Min(_maxParallel - _ledger.InFlight, ReadyCountLocked);
        if (free <= 0 || _stopReason is not null)
        {
            return null;
        }

        var taken = new TaskNodeResult[free];
        for (var i = 0; i < free; i++)
        {
            taken[i] = TakeLocked()!;
        }

        return taken;
    }

    /// <summary>Clears the ready queue when the run stops: the tasks in it are skipped by the caller.</summary>
    private void ClearReadyLocked()
    {
        _ready.Clear();
        _initialHead = _initialReady.Length;
    }

    private void StartDispatchers(TaskNodeResult[]? nodes)
    {
        if (nodes is null)
        {
            return;
        }

        foreach (var node in nodes)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static state => state.Run.RunLoop(state.Node), (Run: this, Node: node), preferLocal: false);
        }
    }
}
