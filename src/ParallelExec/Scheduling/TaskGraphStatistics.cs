namespace ParallelExec.Scheduling;

/// <summary>A snapshot of how many tasks of a <see cref="TaskGraphRun"/> are in each state.</summary>
public sealed class TaskGraphStatistics
{
    internal TaskGraphStatistics(int total, int ready, int running, int succeeded, int failed, int skipped, int cancelled)
    {
        Total = total;
        Ready = ready;
        Running = running;
        Succeeded = succeeded;
        Failed = failed;
        Skipped = skipped;
        Cancelled = cancelled;
    }

    /// <summary>Gets the number of tasks in the run, including tasks added at run time so far.</summary>
    public int Total { get; }

    /// <summary>Gets the number of tasks waiting for a dependency to end.</summary>
    public int Waiting => Total - Ready - Running - Ended;

    /// <summary>Gets the number of tasks whose dependencies have ended, waiting for a free slot.</summary>
    public int Ready { get; }

    /// <summary>Gets the number of tasks executing now.</summary>
    public int Running { get; }

    /// <summary>Gets the number of tasks that succeeded.</summary>
    public int Succeeded { get; }

    /// <summary>Gets the number of tasks that failed.</summary>
    public int Failed { get; }

    /// <summary>Gets the number of tasks that were skipped.</summary>
    public int Skipped { get; }

    /// <summary>Gets the number of tasks that were cancelled while running.</summary>
    public int Cancelled { get; }

    /// <summary>Gets the number of tasks that have ended, whatever the outcome.</summary>
    public int Ended => Succeeded + Failed + Skipped + Cancelled;
}
