using System.Collections.ObjectModel;
using System.Diagnostics;
using ParallelExec.Internal;

namespace ParallelExec.Scheduling;

/// <content>
/// Progress and completion: reporting each ended task (progress callback, metrics, drop reports) outside the lock, the
/// hold that keeps the run open until every report has returned, building the result, and disposal.
/// </content>
public sealed partial class TaskGraphRun
{
    // Threads that left the lock with task results still to report to the progress callback: the run finishes only
    // once they have reported, so that a caller who awaited the run has received every report (guarded by _gate).
    private int _reportsInFlight;

    /// <summary>
    /// Stops dynamic additions (<see cref="Complete"/>), waits up to the graph's <see cref="ComponentOptions.DrainTimeout"/>
    /// for the run to end, then cancels it: running tasks see their token cancelled and end cancelled, tasks not started
    /// are skipped, and each of them is counted as dropped with <see cref="DropReason.DrainTimeout"/>
    /// (<c>parallelexec.graph.items.dropped</c> and an event on the current span). Idempotent: every call returns the
    /// same disposal. Called from one of the run's own tasks, it starts the disposal and returns at once, since waiting
    /// would wait for the calling task itself.
    /// </summary>
    /// <returns>A task that ends when the run has ended.</returns>
    public ValueTask DisposeAsync()
    {
        TaskCompletionSource? first;
        Task disposal;
        lock (_gate)
        {
            disposal = _lifecycle.BeginDisposal(out first);
        }

        if (first is not null)
        {
            _ = DrainThenCancelAsync(first);
        }

        return AmbientComponent<TaskGraphRun>.IsInside(this) ? default : new ValueTask(disposal);
    }

    private async Task DrainThenCancelAsync(TaskCompletionSource disposed)
    {
        try
        {
            // The drain waits for the run's end, which must not fault here even if a scheduler bug faulted it.
            var ended = _completion.Task.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            await Lifecycle.DrainAsync(ended, _graph.DrainTimeout, _time, CancelForDrainTimeout).ConfigureAwait(false);
        }
        finally
        {
            disposed.TrySetResult();
        }
    }

    private bool TryFinishLocked()
    {
        if (_finished || _ledger.InFlight != 0 || _ledger.Queued != 0 || _reportsInFlight != 0)
        {
            return false;
        }

        _finished = true;
        _lifecycle.SetCompleted();
        return true;
    }

    private void Finish()
    {
        _callerRegistration.Unregister();
        var endedAt = _time.GetUtcNow();
        TaskGraphResult result;
        lock (_gate)
        {
            var failures = _failures is null ? null : new AggregateException(
                $"{_failures.Count} task(s) of task graph '{_graph.Name}' failed.", _failures);
            result = new TaskGraphResult(
                new ReadOnlyCollection<TaskNodeResult>(_nodes),
                _graph,
                _dynamicIds,
                failures,
                _cancelled,
                _startedAt,
                endedAt,
                _ledger.Snapshot(),
                _skipped);
        }

        _reporter.Instruments.Live.Remove(this);
        if (_runSpan is { } span)
        {
            if (result.Exception is { } failure)
            {
                span.SetStatus(ActivityStatusCode.Error, failure.Message);
            }

            span.Stop();
        }

        _completions?.Writer.TryComplete();
        _completion.TrySetResult(result);
    }

    /// <summary>
    /// Under the lock, before results are reported outside it: holds the run open until <see cref="EndReport"/>. Only
    /// with a progress callback (the metrics have no one waiting for them).
    /// </summary>
    private void BeginReportLocked()
    {
        if (_progress is not null)
        {
            _reportsInFlight++;
        }
    }

    /// <summary>After reporting: releases the hold of <see cref="BeginReportLocked"/>; returns whether the run finished.</summary>
    private bool EndReport()
    {
        if (_progress is null)
        {
            return false;
        }

        lock (_gate)
        {
            _reportsInFlight--;
            return TryFinishLocked();
        }
    }

    private void Report(TaskNodeResult node)
    {
        if (node.CutByDrainTimeout)
        {
            _reporter.Dropped(DropReason.DrainTimeout, node, node.Id);
        }

        if (node.State == NodeState.Skipped && _graph.SkippedInstrument.Enabled)
        {
            _graph.SkippedInstrument.Add(1, _reporter.NameTag);
        }

        if (_progress is null)
        {
            return;
        }

        try
        {
            _progress.Report(node);
        }
        catch (Exception)
        {
            // A progress callback that throws must not lose the task's outcome or stall the scheduler; the outcome is
            // in the result either way.
        }
    }

    private void Report(List<TaskNodeResult>? nodes)
    {
        if (nodes is null)
        {
            return;
        }

        foreach (var node in nodes)
        {
            Report(node);
        }
    }
}
