namespace ParallelExec.Scheduling;

/// <summary>
/// How a task of a <see cref="TaskGraph"/> run ended. Every task ends in exactly one of these states.
/// </summary>
public enum TaskNodeStatus
{
    /// <summary>The task ran and returned; <see cref="TaskNodeResult.Value"/> holds its value.</summary>
    Succeeded = 0,

    /// <summary>
    /// The task threw, or timed out (a <see cref="TimeoutException"/>); <see cref="TaskNodeResult.Exception"/> holds the
    /// exception.
    /// </summary>
    Failed = 1,

    /// <summary>
    /// The task never started: a dependency failed (<see cref="FailurePolicy.SkipDependents"/>), the run stopped on a
    /// failure (<see cref="FailurePolicy.FailFast"/>) or the caller cancelled. <see cref="TaskNodeResult.SkipReason"/>
    /// says which.
    /// </summary>
    Skipped = 2,

    /// <summary>
    /// The task was running when the run was cancelled (by the caller or by <see cref="FailurePolicy.FailFast"/>) and
    /// it ended with an <see cref="OperationCanceledException"/>.
    /// </summary>
    Cancelled = 3,
}
