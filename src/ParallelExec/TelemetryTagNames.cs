namespace ParallelExec;

/// <summary>
/// The tag names ParallelExec attaches to its measurements and activities, kept in one place so that dashboards and
/// tests can refer to them without string literals.
/// </summary>
public static class TelemetryTagNames
{
    /// <summary>The user-chosen name of the component instance (for example a pool's <c>Name</c> option).</summary>
    public const string Name = "parallelexec.name";

    /// <summary>Why an item was dropped; a <see cref="DropReason"/> value.</summary>
    public const string DropReason = "parallelexec.drop.reason";

    /// <summary>Why a batch was flushed (size, time, forced, dispose).</summary>
    public const string FlushReason = "parallelexec.flush.reason";

    /// <summary>How a work item ended: succeeded, failed or cancelled.</summary>
    public const string Outcome = "parallelexec.outcome";

    /// <summary>A topic of the coordination bus.</summary>
    public const string Topic = "parallelexec.topic";

    /// <summary>A provider (rate-limit partition) of the network gate.</summary>
    public const string Provider = "parallelexec.provider";

    /// <summary>The kind of an agent.</summary>
    public const string AgentKind = "parallelexec.agent.kind";

    /// <summary>The name of an operation, such as read, write, get or set.</summary>
    public const string Operation = "parallelexec.operation";

    /// <summary>The name of a pipeline's stage (<c>PipelineStage.Name</c>).</summary>
    public const string Stage = "parallelexec.pipeline.stage";
}
