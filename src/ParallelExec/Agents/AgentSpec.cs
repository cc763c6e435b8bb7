namespace ParallelExec.Agents;

/// <summary>
/// What an <see cref="IAgentFactory{TAgent}"/> creates: the kind of agent, its name, its arguments and the shared context
/// the pool loaded once for all its agents.
/// </summary>
/// <remarks>
/// A pool takes the spec of its options as a template and hands every spawn a copy whose <see cref="Name"/> is made
/// unique (<c>"{Name}-{n}"</c>) and whose <see cref="SharedContext"/> is the context it loaded.
/// </remarks>
public sealed class AgentSpec
{
    /// <summary>Gets the kind of agent (for example a model or a role); reported in metrics as <see cref="TelemetryTagNames.AgentKind"/>.</summary>
    /// <value>Defaults to <c>"agent"</c>.</value>
    public string Kind { get; init; } = "agent";

    /// <summary>Gets the agent's name; a pool makes it unique per spawn and factories use it as the agent's id.</summary>
    /// <value>Defaults to <c>"agent"</c>.</value>
    public string Name { get; init; } = "agent";

    /// <summary>Gets the arguments the agent starts with (for a process: appended to its command line).</summary>
    /// <value>Defaults to no arguments.</value>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>
    /// Gets the context shared by every agent of a pool (a loaded model handle, a prompt, a configuration), loaded once by
    /// the pool through <see cref="AgentPoolOptions.SharedContextFactory"/>. A <see cref="ProcessAgent"/> passes a
    /// string context to its process in the <c>PARALLELEXEC_AGENT_CONTEXT</c> environment variable.
    /// </summary>
    /// <value>Defaults to <see langword="null"/>.</value>
    public object? SharedContext { get; init; }

    internal AgentSpec WithInstance(string name, object? sharedContext) => new()
    {
        Kind = Kind,
        Name = name,
        Arguments = Arguments,
        SharedContext = sharedContext,
    };
}
