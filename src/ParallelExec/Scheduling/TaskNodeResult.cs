using System.Diagnostics;

namespace ParallelExec.Scheduling;

/// <summary>
/// How one task of a <see cref="TaskGraph"/> run ended: its status, its value or exception or skip reason, and when it
/// started and ended according to the graph's <see cref="TimeProvider"/>.
/// </summary>
/// <remarks>
/// The library only hands out a task's result once the task has ended (in <see cref="TaskGraphResult.Tasks"/>, to the
/// progress callback and completion stream, and to dependents through <see cref="TaskGraphContext.GetDependency"/>); from
/// then on it never changes.
/// </remarks>
[DebuggerDisplay("{Id,nq}: {State}")]
public abstract class TaskNodeResult
{
    private DateTime _startedUtc;
    private DateTime _endedUtc;

    private protected TaskNodeResult(TaskDefinition definition)
    {
        Definition = definition;
        PendingDependencies = definition.DependencyIndices.Length;
    }

    /// <summary>Gets the task's id.</summary>
    public string Id => Definition.Id;

    /// <summary>Gets how the task ended.</summary>
    public TaskNodeStatus Status => State switch
    {
        NodeState.Succeeded => TaskNodeStatus.Succeeded,
        NodeState.Failed => TaskNodeStatus.Failed,
        NodeState.Skipped => TaskNodeStatus.Skipped,
        NodeState.Cancelled => TaskNodeStatus.Cancelled,
        _ => throw new InvalidOperationException($"Task '{Id}' has not ended yet."),
    };

    /// <summary>
    /// Gets the task's value, boxed; <see langword="null"/> unless the task succeeded and returned a value. Use
    /// <see cref="GetValue{T}"/> to read it typed.
    /// </summary>
    public object? Value => State == NodeState.Succeeded ? BoxedValue : null;

    /// <summary>
    /// Gets the exception the task failed with (a <see cref="TimeoutException"/> when its timeout expired), or the
    /// <see cref="OperationCanceledException"/> it was cancelled with; otherwise <see langword="null"/>.
    /// </summary>
    public Exception? Exception { get; internal set; }

    /// <summary>Gets why the task was skipped, naming the failed task or the cancellation; otherwise <see langword="null"/>.</summary>
    public string? SkipReason { get; internal set; }

    /// <summary>Gets when the task started, or <see langword="null"/> when it never started (skipped).</summary>
    public DateTimeOffset? StartedAt => _startedUtc == default ? null : new DateTimeOffset(_startedUtc, TimeSpan.Zero);

    /// <summary>Gets when the task ended (for a skipped task: when it was skipped).</summary>
    public DateTimeOffset EndedAt => new(_endedUtc, TimeSpan.Zero);

    /// <summary>Gets how long the task ran, or <see langword="null"/> when it never started.</summary>
    public TimeSpan? Duration => _startedUtc == default ? null : _endedUtc - _startedUtc;

    /// <summary>Gets the ids of the tasks this task depended on.</summary>
    public IReadOnlyList<string> DependsOn => Definition.DependencyIds;

    /// <summary>Gets the id of the task that added this task at run time, or <see langword="null"/> for a task of the built graph.</summary>
    public string? AddedBy => Definition.AddedBy;

    internal TaskDefinition Definition { get; }

    internal NodeState State { get; set; }

    /// <summary>Dependencies that have not ended yet; the task becomes ready at zero.</summary>
    internal int PendingDependencies { get; set; }

    /// <summary>Dependents added at run time by other tasks (static dependents live in the definition).</summary>
    internal List<int>? ExtraDependents { get; set; }

    /// <summary>The timeout of the current execution, when the task has one.</summary>
    internal TimeoutScope? Timeout { get; set; }

    /// <summary>Whether a passed drain timeout cut the task (it is then counted as dropped, not cancelled).</summary>
    internal bool CutByDrainTimeout { get; set; }

    /// <summary>The task's span while it runs, when someone listens.</summary>
    internal Activity? Span { get; set; }

    internal DateTimeOffset StartedAtInternal { set => _startedUtc = value.UtcDateTime; }

    internal DateTimeOffset EndedAtInternal { set => _endedUtc = value.UtcDateTime; }

    internal abstract object? BoxedValue { get; }

    /// <summary>Gets the task's value as <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The type the task returned, or a type it converts to by reference or boxing.</typeparam>
    /// <returns>The value.</returns>
    /// <exception cref="InvalidOperationException">The task did not succeed, or it returns no value.</exception>
    /// <exception cref="InvalidCastException">The task's value is not a <typeparamref name="T"/>.</exception>
    public T GetValue<T>()
    {
        if (State != NodeState.Succeeded)
        {
            throw new InvalidOperationException(
                State is NodeState.Succeeded or NodeState.Failed or NodeState.Skipped or NodeState.Cancelled
                    ? $"Task '{Id}' has no value: it {Status.ToString().ToLowerInvariant()}."
                    : $"Task '{Id}' has no value: it has not ended yet.",
                Exception);
        }

        return ReadValue<T>();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Id}: {State}";

    internal abstract T ReadValue<T>();

    /// <summary>Runs the body once; the value is stored when the returned task completes successfully.</summary>
    internal abstract ValueTask InvokeAsync(TaskGraphContext context, CancellationToken cancellationToken);
}
