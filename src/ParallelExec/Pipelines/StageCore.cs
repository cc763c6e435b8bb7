using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Pipelines;

/// <summary>
/// What every stage has whatever its item types: its counters, its reports, its workers' count (resizable while it
/// runs) and its snapshot.
/// </summary>
/// <remarks>
/// <para><b>Ledger.</b> An item is counted entered when it is written into the stage's input queue, and ends here exactly
/// once: left (its outputs were passed on, or a sink consumed it), filtered, failed, or dropped (cancelled, evicted,
/// refused, cut by the drain timeout). A write into the next stage that is cancelled counts the item dropped at this
/// stage: it never entered the next one.</para>
/// <para><b>Locking.</b> The counters are updated with interlocked operations by the stage's workers and its writers.
/// <see cref="_resizeLock"/> guards only the worker count (<see cref="_live"/>, <see cref="_target"/>,
/// <see cref="_workersFinished"/>) and is never held while user code or an await runs.</para>
/// </remarks>
internal abstract class StageCore
{
    private readonly object _resizeLock = new();
    private readonly TaskCompletionSource _workersDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ItemReporter _reporter;
    private readonly Counter<long> _submittedCounter;
    private readonly Histogram<double> _runDuration;
    private readonly KeyValuePair<string, object?> _stageTag;
    private int _target;
    private int _live;
    private bool _workersFinished;

    // Written by the stage before (its workers, or the source) on every item while this stage's workers write the end
    // counters below: on a cache line of its own, so that the two sides do not invalidate each other's line per item.
    private PaddedCounter _entered;

    public long Left;
    public long Failed;
    public long Filtered;
    public long Dropped;
    public long Cancelled;
    public long Rejected;

    protected StageCore(PipelineRun run, PipelineStage settings)
    {
        Run = run;
        Name = settings.Name;
        _target = settings.MaxDegreeOfParallelism;
        _stageTag = new KeyValuePair<string, object?>(TelemetryTagNames.Stage, Name);
        _reporter = new ItemReporter(run.Name, run.TimeProvider, run.Instruments, run.Options.OnDropped, run.Options.OnError, _stageTag);
        _submittedCounter = run.Instruments.Submitted;
        _runDuration = run.Instruments.RunDuration;
    }

    public PipelineRun Run { get; }

    public string Name { get; }

    /// <summary>Gets the stage this one writes into, if any: its <see cref="Entered"/> is this stage's emitted count.</summary>
    public StageCore? Next { get; set; }

    public int MaxDegreeOfParallelism => Volatile.Read(ref _target);

    protected abstract int Queued { get; }

    /// <summary>Gets how many outputs this stage passed on when it has no next stage (a streaming run's output).</summary>
    protected long OutputCount;

    /// <summary>Whether a worker should retire because the stage was shrunk (read without the lock on every item).</summary>
    protected bool OverTarget => Volatile.Read(ref _live) > Volatile.Read(ref _target);

    protected Task WorkersDone => _workersDone.Task;

    /// <summary>Runs the stage until its input is complete (or the run is cancelled) and everything it took has ended.</summary>
    /// <param name="upstream">Ends when nothing more will be written into this stage.</param>
    public abstract Task RunAsync(Task upstream);

    protected abstract void StartWorker();

    public void CountEntered()
    {
        Interlocked.Increment(ref _entered.Value);
        if (_submittedCounter.Enabled)
        {
            _reporter.Submitted();
        }
    }

    public void UncountEntered() => Interlocked.Decrement(ref _entered.Value);

    /// <summary>Gets how many items were written into this stage (accepted or not yet refused).</summary>
    public long Entered => Volatile.Read(ref _entered.Value);

    public void Evicted(object? item, DropReason reason)
    {
        Interlocked.Increment(ref Dropped);
        _reporter.Dropped(reason, item, Name);
    }

    public void Refused(object? item)
    {
        Interlocked.Increment(ref Rejected);
        _reporter.Dropped(DropReason.Rejected, item, Name);
    }

    /// <summary>Counts an item whose work threw: a cancellation is a drop, anything else a failure (which may stop the run).</summary>
    public void ItemFailed(object? item, Exception exception, Activity? span)
    {
        if (exception is OperationCanceledException)
        {
            ItemCancelled(item);
            return;
        }

        Interlocked.Increment(ref Failed);
        _reporter.Failed(exception, item, Name, span);
        Run.OnItemFailed(exception);
    }

    /// <summary>Counts an item that did not run to an outcome of its own because the run (or its own work) was cancelled.</summary>
    public void ItemCancelled(object? item)
    {
        var reason = Run.CancelReason;
        Interlocked.Increment(ref reason == DropReason.DrainTimeout ? ref Dropped : ref Cancelled);
        _reporter.Dropped(reason, item, Name);
    }

    protected void CountLeft() => Interlocked.Increment(ref Left);

    protected void CountFiltered() => Interlocked.Increment(ref Filtered);

    public void CountOutputFromTarget() => Interlocked.Increment(ref OutputCount);

    /// <summary>Starts a span for one item when someone listens.</summary>
    protected Activity? StartItemSpan()
    {
        if (!Telemetry.ActivitySource.HasListeners())
        {
            return null;
        }

        var span = Telemetry.StartSpan("parallelexec.pipeline.item", Run.Name, Run.SpanContext);
        span?.SetTag(TelemetryTagNames.Stage, Name);
        return span;
    }

    protected long StartTiming() => _runDuration.Enabled ? Run.TimeProvider.GetTimestamp() : 0;

    protected void RecordRun(long started, string outcome)
    {
        if (started != 0)
        {
            _runDuration.Record(Run.TimeProvider.GetElapsedTime(started).TotalSeconds,
                new KeyValuePair<string, object?>(TelemetryTagNames.Name, Run.Name),
                new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, outcome),
                _stageTag);
        }
    }

    /// <summary>Starts the configured number of workers.</summary>
    protected void StartWorkers()
    {
        int count;
        lock (_resizeLock)
        {
            count = _target;
            _live = count;
        }

        for (var i = 0; i < count; i++)
        {
            StartWorker();
        }
    }

    /// <summary>Changes the number of workers: new ones start at once; busy ones retire after their current item.</summary>
    public virtual void SetMaxDegreeOfParallelism(int maxDegreeOfParallelism)
    {
        var start = 0;
        lock (_resizeLock)
        {
            _target = maxDegreeOfParallelism;
            if (!_workersFinished && _live > 0)
            {
                start = Math.Max(0, maxDegreeOfParallelism - _live);
                _live += start;
            }
        }

        for (var i = 0; i < start; i++)
        {
            StartWorker();
        }
    }

    /// <summary>Retires the calling worker if the stage has more than its target; returns whether it did.</summary>
    protected bool TryRetire()
    {
        lock (_resizeLock)
        {
            if (_live <= _target)
            {
                return false;
            }

            _live--;
            return true;
        }
    }

    /// <summary>Ends a worker that found its input complete (or the run cancelled); the last one ends the stage's work.</summary>
    protected void ExitWorker()
    {
        lock (_resizeLock)
        {
            _live--;
            if (_live > 0)
            {
                return;
            }

            _workersFinished = true;
        }

        _workersDone.TrySetResult();
    }

    /// <summary>Reads the stage's counters.</summary>
    public PipelineStageStatistics Snapshot()
    {
        var entered = Entered;
        var left = Volatile.Read(ref Left);
        var failed = Volatile.Read(ref Failed);
        var filtered = Volatile.Read(ref Filtered);
        var dropped = Volatile.Read(ref Dropped);
        var cancelled = Volatile.Read(ref Cancelled);
        var rejected = Volatile.Read(ref Rejected);
        var queued = (long)Queued;
        var inFlight = Math.Max(0, entered - left - failed - filtered - dropped - cancelled - rejected - queued);
        queued = Math.Max(0, Math.Min(queued, entered - left - failed - filtered - dropped - cancelled - rejected));
        var ledger = new LedgerSnapshot
        {
            Submitted = entered,
            Succeeded = left + filtered,
            Failed = failed,
            Cancelled = cancelled,
            Dropped = dropped,
            Rejected = rejected,
            InFlight = inFlight,
            Queued = queued,
        };
        var emitted = Next is { } next ? next.Entered : Volatile.Read(ref OutputCount);
        return new PipelineStageStatistics(Name, ledger, left, filtered, emitted, MaxDegreeOfParallelism);
    }
}
