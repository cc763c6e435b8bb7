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
    /// <value>Defaults to 8192.</value>
    public int MaxStandardErrorLength { get; set; } = 8192;

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
            TimeProvider = TimeProvider,
        };
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
            .Require(StartupTimeout == Timeout.InfiniteTimeSpan || StartupTimeout <= TimeSpan.FromMilliseconds(uint.MaxValue - 1), nameof(StartupTimeout), StartupTimeout, "must be at most 49.17:02:47.2940000 (the longest timer)")
            .Require(MaxStandardErrorLength >= 0, nameof(MaxStandardErrorLength), MaxStandardErrorLength, "must be zero or greater")
            .RequireNotNull(TimeProvider, nameof(TimeProvider))
            .ThrowIfInvalid();
    }
}
