using ParallelExec.Internal;

namespace ParallelExec.Scheduling;

/// <summary>Argument checks and option copying shared by every way of adding a task.</summary>
internal static class TaskDefinitionFactory
{
    public static TaskDefinition Create<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, string[] dependsOn)
    {
        CheckId(id);
        ArgumentNullException.ThrowIfNull(body);
        return new TaskDefinition<T>(id, CheckDependencies(dependsOn, nameof(dependsOn)), body, null);
    }

    public static TaskDefinition Create<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, TaskNodeOptions options)
    {
        CheckId(id);
        ArgumentNullException.ThrowIfNull(body);
        return new TaskDefinition<T>(id, CheckOptions(options), body, options);
    }

    public static TaskDefinition Create(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, string[] dependsOn)
    {
        CheckId(id);
        ArgumentNullException.ThrowIfNull(body);
        return new VoidTaskDefinition(id, CheckDependencies(dependsOn, nameof(dependsOn)), body, null);
    }

    public static TaskDefinition Create(string id, Func<TaskGraphContext, CancellationToken, ValueTask> body, TaskNodeOptions options)
    {
        CheckId(id);
        ArgumentNullException.ThrowIfNull(body);
        return new VoidTaskDefinition(id, CheckOptions(options), body, options);
    }

    /// <summary>A task whose body runs through a result-aware Polly pipeline (hedging, retry on a result).</summary>
    public static TaskDefinition Create<T>(string id, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, Polly.ResiliencePipeline<T> resilience, TaskNodeOptions? options)
    {
        CheckId(id);
        ArgumentNullException.ThrowIfNull(body);
        ArgumentNullException.ThrowIfNull(resilience);
        Func<TaskGraphContext, CancellationToken, ValueTask<T>> wrapped =
            (context, ct) => resilience.ExecuteAsync(static (state, ct) => state.body(state.context, ct), (body, context), ct);
        return options is null
            ? new TaskDefinition<T>(id, [], wrapped, null)
            : new TaskDefinition<T>(id, CheckOptions(options), wrapped, options);
    }

    private static void CheckId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (string.IsNullOrWhiteSpace(id))
        {
            throw new ArgumentException($"A task id must not be empty or white space (was \"{id}\").", nameof(id));
        }
    }

    private static string[] CheckDependencies(IReadOnlyList<string> dependsOn, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(dependsOn, parameterName);
        var copy = new string[dependsOn.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            var id = dependsOn[i];
            if (string.IsNullOrWhiteSpace(id))
            {
                throw new ArgumentException(
                    $"Dependency {i} is null, empty or white space; a dependency must be a task id.", parameterName);
            }

            copy[i] = id;
        }

        return copy;
    }

    private static string[] CheckOptions(TaskNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        new OptionsValidator(nameof(TaskNodeOptions))
            .RequireNotNull(options.DependsOn, nameof(TaskNodeOptions.DependsOn))
            .Require(double.IsFinite(options.CostEstimate) && options.CostEstimate >= 0, nameof(TaskNodeOptions.CostEstimate), options.CostEstimate, "must be finite and not negative")
            .RequirePositiveOrInfinite(options.Timeout, nameof(TaskNodeOptions.Timeout))
            // The timeout is a timer: a longer span would fail when the task starts instead of here.
            .RequireTimerRange(options.Timeout, nameof(TaskNodeOptions.Timeout))
            .ThrowIfInvalid();
        return CheckDependencies(options.DependsOn, nameof(options));
    }
}
