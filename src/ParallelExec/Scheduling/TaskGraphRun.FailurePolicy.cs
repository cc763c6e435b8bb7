using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Scheduling;

/// <content>
/// Failure policy and cancellation cascade: what a failure does to the rest of the run (FailFast stops it,
/// SkipDependents skips what depends on the failed task, ContinueAll runs on), what the caller's token and a passed
/// drain timeout do (stop the run and cancel the running tasks), and how every task ends exactly once in the ledger.
/// </content>
public sealed partial class TaskGraphRun
{
    private const string DrainTimeoutReason = "Skipped because the run was disposed and its drain timeout passed.";

    private string? _stopReason;
    private StopCause _stopCause;

    // Whether the caller's token or a passed drain timeout cancelled the run (also after FailFast had already stopped it).
    private bool _cancelled;

    /// <summary>Why the run stopped starting tasks; the first cause wins.</summary>
    private enum StopCause
    {
        None,
        FailFast,
        Caller,
        DrainTimeout,
    }

    /// <summary>Applies the failure policy to a task that just failed; returns whether the running tasks must be cancelled.</summary>
    private bool ApplyFailurePolicyLocked(TaskNodeResult node, Exception failure, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        (_failures ??= []).Add(failure);
        if (_policy == FailurePolicy.FailFast)
        {
            return StopLocked(StopCause.FailFast, $"Skipped because task '{node.Id}' failed (FailFast).", now, ref skipped);
        }

        if (_policy == FailurePolicy.SkipDependents)
        {
            SkipDependentsLocked(node, $"Skipped because task '{node.Id}' failed.", now, ref skipped);
        }

        return false;
    }

    private void OnCallerCancelled() => Cancel(StopCause.Caller, "Skipped because the run was cancelled.");

    /// <summary>The drain timeout of <see cref="DisposeAsync"/> passed: cancel what is left, each task counted as dropped.</summary>
    private void CancelForDrainTimeout() => Cancel(StopCause.DrainTimeout, DrainTimeoutReason);

    private void Cancel(StopCause cause, string reason)
    {
        var now = _time.GetUtcNow();
        List<TaskNodeResult>? skipped = null;
        bool cancelRun, finished;
        lock (_gate)
        {
            if (_finished)
            {
                return;
            }

            _cancelled = true;
            cancelRun = StopLocked(cause, reason, now, ref skipped);
            BeginReportLocked();
            finished = TryFinishLocked();
            AssertInvariants();
        }

        // Even when FailFast already stopped the run, the token was cancelled then; nothing more to signal.
        if (cancelRun)
        {
            CancelRunningTasks();
        }

        Report(skipped);
        finished |= EndReport();
        if (finished)
        {
            Finish();
        }
    }

    private void CancelRunningTasks()
    {
        try
        {
            _runCancellation.Cancel();
        }
        catch (AggregateException)
        {
            // A callback that user code registered on a task's token threw. The tasks still see the cancellation; the
            // exception belongs to that callback's owner and must not break the run's bookkeeping.
        }
    }

    /// <summary>Stops the run: no task starts any more and every task that has not started is skipped.</summary>
    private bool StopLocked(StopCause cause, string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        if (_stopReason is not null)
        {
            return false;
        }

        _stopReason = reason;
        _stopCause = cause;
        ClearReadyLocked();
        foreach (var node in _nodes)
        {
            if (node.State is NodeState.Waiting or NodeState.Ready)
            {
                SkipLocked(node, reason, now, ref skipped);
            }
        }

        return true;
    }

    /// <summary>Skips every task that depends on <paramref name="root"/>, transitively, with an explicit stack.</summary>
    private void SkipDependentsLocked(TaskNodeResult root, string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        var stack = new Stack<TaskNodeResult>();
        stack.Push(root);
        while (stack.TryPop(out var node))
        {
            foreach (var index in node.Definition.DependentIndices)
            {
                SkipOne(_nodes[index], ref skipped);
            }

            if (node.ExtraDependents is { } extra)
            {
                foreach (var index in extra)
                {
                    SkipOne(_nodes[index], ref skipped);
                }
            }
        }

        void SkipOne(TaskNodeResult dependent, ref List<TaskNodeResult>? skipped)
        {
            // A dependent of an unfinished task can be neither ready nor running, so Waiting is the only state to skip.
            if (dependent.State == NodeState.Waiting)
            {
                SkipLocked(dependent, reason, now, ref skipped);
                stack.Push(dependent);
            }
        }
    }

    private void SkipLocked(TaskNodeResult node, string reason, DateTimeOffset now, ref List<TaskNodeResult>? skipped)
    {
        node.SkipReason = reason;
        node.EndedAtInternal = now;
        var cut = ReferenceEquals(reason, DrainTimeoutReason);
        EndLocked(node, NodeState.Skipped, cut);
        if (_progress is not null || cut || _graph.SkippedInstrument.Enabled)
        {
            (skipped ??= []).Add(node);
        }
    }

    /// <summary>
    /// Ends a task exactly once, in its state and in the ledger: a task that ran ends in flight; a skipped one leaves
    /// the queue as cancelled; one <paramref name="cut"/> by a passed drain timeout counts as dropped either way.
    /// </summary>
    private void EndLocked(TaskNodeResult node, NodeState outcome, bool cut)
    {
        Debug.Assert(node.State < NodeState.Succeeded, "A task ends exactly once.");
        var ran = node.State == NodeState.Running;
        node.State = outcome;
        node.CutByDrainTimeout = cut;
        if (!ran)
        {
            _skipped++;
            _ledger.EndQueued(cut ? DropReason.DrainTimeout : DropReason.Cancelled);
        }
        else if (cut)
        {
            _ledger.EndInFlight(DropReason.DrainTimeout);
        }
        else
        {
            _ledger.End(outcome switch
            {
                NodeState.Succeeded => ItemOutcome.Succeeded,
                NodeState.Failed => ItemOutcome.Failed,
                _ => ItemOutcome.Cancelled,
            });
        }

        // Written under the lock so that the stream's order is the order in which tasks ended.
        _completions?.Writer.TryWrite(node);
    }
}
