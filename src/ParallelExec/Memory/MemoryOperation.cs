namespace ParallelExec.Memory;

/// <summary>The operations a memory store's telemetry tells apart (the <see cref="TelemetryTagNames.Operation"/> tag).</summary>
internal enum MemoryOperation
{
    /// <summary>A read of one or more keys.</summary>
    Get,

    /// <summary>A write of one or more keys.</summary>
    Set,

    /// <summary>A delete of one or more keys.</summary>
    Remove,

    /// <summary>A listing of a namespace's keys.</summary>
    List,
}
