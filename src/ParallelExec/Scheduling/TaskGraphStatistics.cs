namespace ParallelExec.Scheduling;

/// <summary>
/// A snapshot of a <see cref="TaskGraphRun"/>: its <see cref="ComponentStatistics.Ledger"/> (a task is the item; a
/// skipped task counts as <see cref="LedgerSnapshot.Cancelled"/>, or as <see cref="LedgerSnapshot.Dropped"/> when a drain
/// timeout cut it; <see cref="LedgerSnapshot.Queued"/> holds the tasks not started yet, ready or waiting) plus where the
/// tasks not started yet stand.
/// </summary>
public sealed class TaskGraphStatistics : ComponentStatistics
{
    internal TaskGraphStatistics(string name, LedgerSnapshot ledger, int ready, int skipped)
        : base(name, ledger)
    {
        Ready = ready;
        Skipped = skipped;
    }

    /// <summary>Gets the number of tasks in the run, including tasks added at run time so far (<see cref="LedgerSnapshot.Submitted"/>).</summary>
    public long Total => Ledger.Submitted;

    /// <summary>Gets the number of tasks whose dependencies have ended, waiting for a free slot.</summary>
    public int Ready { get; }

    /// <summary>Gets the number of tasks waiting for a dependency to end.</summary>
    public long Waiting => Ledger.Queued - Ready;

    /// <summary>Gets the number of tasks that never started (part of <see cref="LedgerSnapshot.Cancelled"/> or <see cref="LedgerSnapshot.Dropped"/>).</summary>
    public int Skipped { get; }
}
