namespace ParallelExec.Sqlite;

/// <summary>Which operations a lane may run together in one transaction when several are waiting.</summary>
internal enum LaneGroup
{
    /// <summary>Runs alone: a bulk operation with its own transaction, or one whose side effects must not run twice.</summary>
    None,

    /// <summary>A single-key read: waiting reads share one read transaction (one snapshot, one lock acquisition).</summary>
    Read,

    /// <summary>A single-key write: waiting writes share one write transaction and complete when it commits.</summary>
    Write,
}
