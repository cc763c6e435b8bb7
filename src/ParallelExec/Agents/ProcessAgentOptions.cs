using ParallelExec.Internal;

namespace ParallelExec.Agents;

/// <summary>
/// How a <see cref="ProcessAgent"/> starts its process. Validated and copied when the agent (or its factory) is created.
/// </summary>
public sealed class ProcessAgentOptions
{
    /// <summary>
    /// Gets or sets the executable to run: a path, or a name looked up on the <c>PATH</c>. For a .NET program this is
    /// usually the <c>dotnet</c> host with the program's dll as the first of <see cref="Arguments"/>.
    /// </summary>
    /// <value>Defaults to an empty string, which is invalid: it must be set.</value>
    public string FileName { get; set; } = string.Empty;

    /// <summary>Gets the arguments every agent process starts with; the <see cref="AgentSpec.Arguments"/> follow them.</summary>
    /// <value>Defaults to no arguments.</value>
    public IList<string> Arguments { get; } = [];

    /// <summary>Gets or sets the working directory of the process.</summary>
    /// <value>Defaults to <see langword="null"/>: the current directory.</value>
    public string? WorkingDirectory { get; set; }

    /// <summary>Gets the environment variables set (or, with a <see langword="null"/> value, removed) for the process.</summary>
    /// <value>Defaults to none: the process inherits this process's environment.</value>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>(StringComparer.Ordinal);

    /// <summary>
    /// Gets or sets how long the process may take to write its ready line (its start-up: loading a model or a context);
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no limit.
    /// </summary>
    /// <value>Defaults to 30 seconds.</value>
    public TimeSpan StartupTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how many characters of the process's standard error are kept (the most recent ones).</summary>
    /// <value>Defaults to 8192. Must be between 0 and 1 GiB (1,073,741,824).</value>
    public int MaxStandardErrorLength { get; set; } = 8192;

    /// <summary>
    /// Gets or sets the longest line, in UTF-8 bytes (the newline not counted), the process may write to its standard
    /// output. A longer line fails the requests in flight with <see cref="AgentProtocolException"/> naming this limit and
    /// stops the agent (the rest of the stream cannot be trusted), so a runaway or hostile process cannot make the host
    /// buffer an endless line: the reader holds at most about twice this many bytes.
    /// </summary>
    /// <value>Defaults to 16 MiB (16,777,216). Must be between 1 and <see cref="MaxLineLengthLimit"/>.</value>
    public int MaxLineLength { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Gets or sets whether the process inherits this process's environment. With <see langword="false"/> it starts
    /// from an empty environment holding only the variables named in <see cref="InheritedEnvironmentVariables"/> (those
    /// that are set here), then <see cref="Environment"/> and the shared context; secrets in this process's
    /// environment do not reach it.
    /// </summary>
    /// <value>Defaults to <see langword="true"/>.</value>
    public bool InheritEnvironment { get; set; } = true;

    /// <summary>
    /// Gets the allow-list of variables copied from this process's environment when <see cref="InheritEnvironment"/>
    /// is <see langword="false"/> (for example <c>PATH</c>, <c>HOME</c>, <c>DOTNET_ROOT</c>); ignored otherwise. Names
    /// are matched exactly (case-insensitively on Windows).
    /// </summary>
    /// <value>Defaults to none.</value>
    public IList<string> InheritedEnvironmentVariables { get; } = [];

    /// <summary>
    /// Gets or sets whether the agent's whole process tree is contained, so that no descendant outlives the agent or
    /// this process. On Linux the process starts in a session and process group of its own (through <c>setsid</c>):
    /// stopping the agent, or noticing that it died (even killed from outside), kills the whole group, grandchildren
    /// included; and a watchdog process (one <c>/bin/sh</c> per host process) kills every group still registered when
    /// this process dies, even by <c>SIGKILL</c>. On macOS the watchdog kills the agent process itself (not its
    /// descendants) when this process dies. On Windows this option has no effect. See docs/agents.md.
    /// </summary>
    /// <value>Defaults to <see langword="true"/>.</value>
    public bool ContainProcessTree { get; set; } = true;

    /// <summary>Gets the largest <see cref="MaxLineLength"/> accepted: 1 GiB.</summary>
    public static int MaxLineLengthLimit => 1024 * 1024 * 1024;

    /// <summary>Gets or sets the clock of the start-up timeout.</summary>
    /// <value>Defaults to <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal ProcessAgentOptions Clone()
    {
        var copy = new ProcessAgentOptions
        {
            FileName = FileName,
            WorkingDirectory = WorkingDirectory,
            StartupTimeout = StartupTimeout,
            MaxStandardErrorLength = MaxStandardErrorLength,
            MaxLineLength = MaxLineLength,
            InheritEnvironment = InheritEnvironment,
            ContainProcessTree = ContainProcessTree,
            TimeProvider = TimeProvider,
        };
        foreach (var name in InheritedEnvironmentVariables)
        {
            copy.InheritedEnvironmentVariables.Add(name);
        }

        foreach (var argument in Arguments)
        {
            copy.Arguments.Add(argument);
        }

        foreach (var (name, value) in Environment)
        {
            copy.Environment[name] = value;
        }

        return copy;
    }

    internal void Validate()
    {
        new OptionsValidator(nameof(ProcessAgentOptions))
            .Require(!string.IsNullOrWhiteSpace(FileName), nameof(FileName), FileName, "must name an executable")
            .Require(Arguments.All(static a => a is not null), nameof(Arguments), "[..]", "must not contain null")
            .RequirePositiveOrInfinite(StartupTimeout, nameof(StartupTimeout))
            // The startup timeout is a timer: longer spans would fail when the agent starts.
            .RequireTimerRange(StartupTimeout, nameof(StartupTimeout))
            .Require(MaxStandardErrorLength >= 0 && MaxStandardErrorLength <= MaxLineLengthLimit, nameof(MaxStandardErrorLength), MaxStandardErrorLength, "must be between 0 and 1 GiB (1073741824)")
            .Require(MaxLineLength >= 1 && MaxLineLength <= MaxLineLengthLimit, nameof(MaxLineLength), MaxLineLength, "must be between 1 and 1 GiB (1073741824): a larger line could exhaust memory")
            .Require(InheritedEnvironmentVariables.All(static n => !string.IsNullOrEmpty(n)), nameof(InheritedEnvironmentVariables), "[..]", "must not contain null or empty names")
            .RequireNotNull(TimeProvider, nameof(TimeProvider))
            .ThrowIfInvalid();
    }
}
