namespace ParallelExec.Scheduling;

/// <summary>The life cycle of a task within one run; only the last four are ever visible to users.</summary>
internal enum NodeState : byte
{
    Waiting,
    Ready,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Cancelled,
}
