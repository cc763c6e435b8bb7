using ParallelExec.Scheduling;

namespace ParallelExec.Hosting;

/// <summary>
/// Starts task graphs with the defaults registered by <c>AddTaskGraph</c> (bound from
/// <c>ParallelExec:TaskGraph:&lt;name&gt;</c>, validated at start-up): a graph is built per use, from its own tasks,
/// so the container holds this factory rather than a graph.
/// </summary>
public sealed class TaskGraphFactory
{
    private readonly TaskGraphOptions _defaults;

    internal TaskGraphFactory(TaskGraphOptions defaults)
    {
        _defaults = defaults;
    }

    /// <summary>Gets the name the graphs take (a tag on their metrics and spans).</summary>
    public string Name => _defaults.Name;

    /// <summary>Starts a graph builder with the registered defaults (copied: changing the builder changes no other graph).</summary>
    /// <returns>A new single-use builder; add tasks, then <c>Build()</c>.</returns>
    public TaskGraphBuilder CreateBuilder() => Exec.Graph(_defaults);
}
