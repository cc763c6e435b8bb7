namespace ParallelExec.Scheduling;

/// <summary>
/// What a <see cref="TaskGraph"/> run does when one of its tasks fails.
/// </summary>
/// <remarks>
/// Whatever the policy, every task of the run is reported in the <see cref="TaskGraphResult"/> exactly once, and
/// <see cref="TaskGraphResult.Exception"/> holds only the real failures, never the cancellations a failure caused.
/// </remarks>
public enum FailurePolicy
{
    /// <summary>
    /// The first failure stops the run: running tasks are cancelled (their token is signalled; a task that then throws
    /// <see cref="OperationCanceledException"/> is reported <see cref="TaskNodeStatus.Cancelled"/>) and every task that
    /// has not started is reported <see cref="TaskNodeStatus.Skipped"/>.
    /// </summary>
    FailFast = 0,

    /// <summary>
    /// A failure skips every task that depends on it, directly or transitively; every other task still runs.
    /// </summary>
    SkipDependents = 1,

    /// <summary>
    /// Failures stop nothing: even the dependents of a failed task run, and can inspect the failure through
    /// <see cref="TaskGraphContext.GetDependency(string)"/>.
    /// </summary>
    ContinueAll = 2,
}
