using System.Diagnostics;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Scheduling;

/// <content>
/// Execution: the dispatchers that run task bodies (inline while they complete synchronously, on a thread-pool hop
/// when they went asynchronous), a task's timeout, span and durations, and recording how a task ended.
/// </content>
public sealed partial class TaskGraphRun
{
    // The task's id on its span. Not in TelemetryTagNames yet (a root file): it has no other user.
    private const string TaskIdTag = "parallelexec.graph.task.id";

    /// <summary>A dispatcher: runs tasks one after another while they complete synchronously.</summary>
    /// <param name="node">The task this dispatcher was given (its slot is already counted).</param>
    private void RunLoop(TaskNodeResult? node)
    {
        try
        {
            while (node is not null)
            {
                // The clock is read after the lock that made the task ready, so a task never appears to start before a
                // dependency (ended by another dispatcher) ended.
                var pending = Execute(node, _time.GetUtcNow());
                if (!pending.IsCompleted)
                {
                    _ = EndWhenDoneAsync(node, pending);
                    return;
                }

                Exception? error = null;
                try
                {
                    pending.GetAwaiter().GetResult();
                }
                catch (Exception exception)
                {
                    error = exception;
                }

                node = EndTask(node, error, _time.GetUtcNow());
            }
        }
        catch (Exception exception)
        {
            // Only a bug in the scheduler gets here; surface it rather than hang the caller.
            _completion.TrySetException(exception);
        }
    }

    private async Task EndWhenDoneAsync(TaskNodeResult node, ValueTask pending)
    {
        Exception? error = null;
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            error = exception;
        }

        // Leave the thread that completed the user's work before running more tasks on it.
        await Task.CompletedTask.ConfigureAwait(ConfigureAwaitOptions.ForceYielding);
        TaskNodeResult? next;
        var now = _time.GetUtcNow();
        try
        {
            next = EndTask(node, error, now);
        }
        catch (Exception exception)
        {
            _completion.TrySetException(exception);
            return;
        }

        RunLoop(next);
    }

    private ValueTask Execute(TaskNodeResult node, DateTimeOffset startedAt)
    {
        node.StartedAtInternal = startedAt;
        if (_executionContext is not null && ExecutionContext.Capture() != _executionContext)
        {
            ExecutionContext.Restore(_executionContext);
        }

        var instruments = _reporter.Instruments;
        if (instruments.WaitDuration.Enabled)
        {
            var submittedAt = node.Definition.AddedBy is null ? _startedAt : node.Definition.AddedAt;
            instruments.WaitDuration.Record((startedAt - submittedAt).TotalSeconds, _reporter.NameTag);
        }

        if (_runSpan is not null)
        {
            // A child of the run's span, which the restored context holds as the current activity.
            node.Span = Telemetry.StartSpan("parallelexec.graph.task", Name);
            node.Span?.SetTag(TaskIdTag, node.Id);
        }

        var token = _runCancellation.Token;
        try
        {
            var timeout = node.Definition.Timeout;
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                var scope = new TimeoutScope(timeout, _time, token);
                node.Timeout = scope;
                token = scope.Token;
            }

            var context = new TaskGraphContext(this, node);
            return _workerPool is null ? node.InvokeAsync(context, token) : InvokeOnWorkerPool(_workerPool, node, context, token);
        }
        catch (Exception exception)
        {
            return ValueTask.FromException(exception);
        }
    }

    // A separate method so that the lambda's closure is allocated only for tasks that run on a pool, not for every task.
    private static ValueTask InvokeOnWorkerPool(WorkerPool pool, TaskNodeResult node, TaskGraphContext context, CancellationToken token) =>
        pool.RunAsync(workerToken => node.InvokeAsync(context, workerToken), token);

    /// <summary>Records how a task ended, releases or skips its dependents, and takes the next task for this dispatcher.</summary>
    private TaskNodeResult? EndTask(TaskNodeResult node, Exception? error, DateTimeOffset now)
    {
        var (outcome, failure) = Classify(node, error);
        List<TaskNodeResult>? skipped = null;
        TaskNodeResult? next;
        TaskNodeResult[]? dispatch;
        bool cancelRun = false, finished;
        lock (_gate)
        {
            node.EndedAtInternal = now;
            node.Exception = failure ?? error;
            EndLocked(node, outcome, cut: outcome == NodeState.Cancelled && _stopCause == StopCause.DrainTimeout);
            if (outcome == NodeState.Failed)
            {
                cancelRun = ApplyFailurePolicyLocked(node, failure!, now, ref skipped);
            }

            ReleaseDependentsLocked(node);
            next = TakeLocked();
            dispatch = TakeForNewDispatchersLocked();
            BeginReportLocked();
            finished = TryFinishLocked();
            AssertInvariants();
        }

        if (cancelRun)
        {
            CancelRunningTasks();
        }

        RecordTaskTelemetry(node, outcome, failure);
        Report(node);
        Report(skipped);
        finished |= EndReport();
        StartDispatchers(dispatch);
        if (finished)
        {
            Finish();
        }

        return next;
    }

    /// <summary>Reads how a task ended from its exception, its timeout and the run's cancellation; disposes its timeout.</summary>
    private (NodeState Outcome, Exception? Failure) Classify(TaskNodeResult node, Exception? error)
    {
        var timedOut = false;
        var timeout = TimeSpan.Zero;
        if (node.Timeout is { } scope)
        {
            timedOut = scope.TimedOut;
            timeout = scope.Timeout;
            scope.Dispose();
            node.Timeout = null;
        }

        if (error is null)
        {
            return (NodeState.Succeeded, null);
        }

        if (error is OperationCanceledException && _runCancellation.IsCancellationRequested)
        {
            return (NodeState.Cancelled, null);
        }

        if (error is OperationCanceledException && timedOut)
        {
            return (NodeState.Failed, new TimeoutException($"Task '{node.Id}' timed out after {timeout}.", error));
        }

        return (NodeState.Failed, error);
    }

    /// <summary>Ends a task's span and records its run duration and failure; outside the lock.</summary>
    private void RecordTaskTelemetry(TaskNodeResult node, NodeState outcome, Exception? failure)
    {
        var instruments = _reporter.Instruments;
        if (failure is not null)
        {
            // The failure reaches the caller in the result; the counter and the task's span record it too.
            _reporter.CountFailure();
            Telemetry.RecordFailure(node.Span, failure);
        }

        if (node.Span is { } span)
        {
            span.SetTag(TelemetryTagNames.Outcome, OutcomeName(outcome));
            span.Stop();
            node.Span = null;
        }

        if (instruments.RunDuration.Enabled && node.Duration is { } duration)
        {
            instruments.RunDuration.Record(duration.TotalSeconds, _reporter.NameTag, new(TelemetryTagNames.Outcome, OutcomeName(outcome)));
        }
    }

    private static string OutcomeName(NodeState state) => state switch
    {
        NodeState.Succeeded => Telemetry.Succeeded,
        NodeState.Failed => Telemetry.Failed,
        _ => Telemetry.Cancelled,
    };
}
