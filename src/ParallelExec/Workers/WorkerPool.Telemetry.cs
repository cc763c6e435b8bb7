using System.Diagnostics;
using System.Diagnostics.Metrics;
using ParallelExec.Internal;

namespace ParallelExec.Workers;

/// <summary>
/// What the pool tells the outside about each item: its span (<c>parallelexec.workerpool.item</c>, parented to the
/// submitter's context captured at submission), its wait and run durations, and the report of an item that did not
/// succeed (<see cref="ItemReporter"/>: the drop and error callbacks, the counters, the span). Everything here runs
/// outside the lock, and costs a field read per item when nobody listens.
/// </summary>
public sealed partial class WorkerPool : IInstrumentedComponent
{
    private const string InstrumentsComponent = "workerpool";
    private const string ItemSpanName = "parallelexec.workerpool.item";

    private readonly ComponentInstruments _instruments;
    private readonly ItemReporter _reporter;

    // The instruments read per item, held here so that each check is one field read and Instrument.Enabled.
    private readonly Counter<long> _submittedCounter;
    private readonly Histogram<double> _waitDuration;
    private readonly Histogram<double> _runDuration;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <inheritdoc/>
    LedgerSnapshot IInstrumentedComponent.ReadLedger()
    {
        lock (_lock)
        {
            return ReadLedgerLocked();
        }
    }

    /// <summary>
    /// The ledger at this instant (under the lock): the pool's end counters plus what its workers hold in claims, and
    /// <see cref="LedgerSnapshot.Queued"/> made of the ring, the unstarted claimed items and the waiting submitters.
    /// </summary>
    private LedgerSnapshot ReadLedgerLocked()
    {
        long queued = _queued + _waiters.Count, succeeded = _ledger.Succeeded, failed = _ledger.Failed, cancelled = _ledger.Cancelled;
        AddClaimsLocked(ref queued, ref succeeded, ref failed, ref cancelled);
        return _ledger.Snapshot() with { Queued = queued, Succeeded = succeeded, Failed = failed, Cancelled = cancelled };
    }

    /// <summary>Joins the gauge registry that <c>queue.length</c>, <c>in_flight</c> and the pool's own gauge read.</summary>
    private void RegisterInstruments()
    {
        var instruments = _instruments;
        instruments.GetExtra("max_degree_of_parallelism", meter => meter.CreateObservableUpDownCounter(
            "parallelexec.workerpool.max_degree_of_parallelism",
            () => instruments.Live.Observe(static pool => ((WorkerPool)pool).MaxDegreeOfParallelism, static pool => pool.NameTag),
            "{item}", "How many items the pool runs at once at most (its workers)."));
        instruments.Live.Add(this);
    }

    /// <summary>Counts a submission in <c>items.submitted</c> (outside the lock; a field read when nobody listens).</summary>
    private void CountSubmitted()
    {
        if (_submittedCounter.Enabled)
        {
            _reporter.Submitted();
        }
    }

    /// <summary>
    /// Starts an item's run: records how long it waited, starts its span when it was submitted while someone listened,
    /// and returns the run's start timestamp (0 when nobody listens to run durations).
    /// </summary>
    private long BeginRun(WorkItem item)
    {
        if (item.StartTimestamp != 0)
        {
            // Recorded here rather than where the item was dequeued: a metrics listener is user code, never run under the lock.
            _waitDuration.Record(_timeProvider.GetElapsedTime(item.StartTimestamp).TotalSeconds, _reporter.NameTag);
        }

        if (item.Traced)
        {
            // Becomes the current activity of this flow, so what the work starts nests under it.
            item.Span = Telemetry.StartSpan(ItemSpanName, Name, item.ParentContext);
        }

        return _runDuration.Enabled ? _timeProvider.GetTimestamp() : 0;
    }

    /// <summary>
    /// Ends an item's run, after the lock has accounted for it and before its submitter is told: records the run
    /// duration, reports a failure or a cancellation, and ends the span.
    /// </summary>
    private void ReportRun(EndedRun ended, long started)
    {
        if (started != 0)
        {
            _runDuration.Record(_timeProvider.GetElapsedTime(started).TotalSeconds, _reporter.NameTag,
                new KeyValuePair<string, object?>(TelemetryTagNames.Outcome, OutcomeTag(ended.Outcome)));
        }

        if (ended.Outcome != ItemOutcome.Succeeded)
        {
            ReportUnsuccessful(ended);
        }

        if (ended.Span is { } span)
        {
            span.SetTag(TelemetryTagNames.Outcome, OutcomeTag(ended.Outcome));
            span.Dispose();
        }
    }

    private void ReportUnsuccessful(EndedRun ended)
    {
        if (ended.Outcome == ItemOutcome.Failed)
        {
            if (ended.Awaited)
            {
                // The caller gets the exception; the span and the counter still say it failed.
                _reporter.CountFailure();
                Telemetry.RecordFailure(ended.Span, ended.Error!);
            }
            else
            {
                _reporter.Failed(ended.Error!, ended.Work, ended.Key, ended.Span);
            }
        }
        else if (ended.CutByDrainTimeout)
        {
            // Cut by the drain timeout (decided under the lock, with its count): a drop, whoever submitted it.
            _reporter.Dropped(DropReason.DrainTimeout, ended.Work, ended.Key);
        }
        else if (!ended.Awaited)
        {
            // A fire-and-forget item cancelled by its token while it ran; an awaiting caller gets the exception instead.
            _reporter.Dropped(DropReason.Cancelled, ended.Work, ended.Key);
        }
    }

    private static string OutcomeTag(ItemOutcome outcome) => outcome switch
    {
        ItemOutcome.Succeeded => Telemetry.Succeeded,
        ItemOutcome.Failed => Telemetry.Failed,
        _ => Telemetry.Cancelled,
    };

    /// <summary>
    /// Counts the end of a run in the ledger (under the lock). An item cancelled once the drain timeout has passed was cut
    /// by it, unless its awaiting caller cancelled it: counted, and then reported, as dropped with
    /// <see cref="DropReason.DrainTimeout"/>; an awaiting caller gets <see cref="ItemDroppedException"/> instead of the
    /// work's own <see cref="OperationCanceledException"/>, as for an item the drain timeout found still queued.
    /// </summary>
    private void CountEndLocked(WorkItem item, ref EndedRun ended)
    {
        if (item.Outcome == ItemOutcome.Cancelled && _drainTimedOut && !(ended.Awaited && item.CallerToken.IsCancellationRequested))
        {
            ended.CutByDrainTimeout = true;
            _ledger.InFlight--;
            _ledger.CountDrop(DropReason.DrainTimeout);
            if (ended.Awaited)
            {
                item.Error = new ItemDroppedException(DropReason.DrainTimeout);
            }
        }
        else
        {
            _ledger.End(item.Outcome);
        }
    }

    /// <summary>
    /// What must be reported of a run after the lock, read from the item before it (a plain node runs the next delegate,
    /// a posted node is recycled, under the lock). Empty (<see cref="IsSet"/> false) for a run that succeeded without a
    /// span: the common case costs two field reads.
    /// </summary>
    private struct EndedRun
    {
        private EndedRun(WorkItem item)
        {
            Outcome = item.Outcome;
            Error = item.Error;
            Work = item.Work;
            Key = item.Key;
            Awaited = item.IsAwaited;
            Span = item.Span;
        }

        public ItemOutcome Outcome { get; }

        public Exception? Error { get; }

        public Delegate? Work { get; }

        public object? Key { get; }

        public bool Awaited { get; }

        public Activity? Span { get; }

        public bool IsSet => Work is not null;

        /// <summary>Gets or sets whether the drain timeout cut the run (decided under the lock, with the ledger count).</summary>
        public bool CutByDrainTimeout { readonly get; set; }

        public static EndedRun Of(WorkItem item) =>
            item.Outcome == ItemOutcome.Succeeded && item.Span is null ? default : new EndedRun(item);
    }
}
