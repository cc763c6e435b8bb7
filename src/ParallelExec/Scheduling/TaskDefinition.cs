using Polly;

namespace ParallelExec.Scheduling;

/// <summary>
/// One task as added to a builder: its id, body and copied options. <see cref="GraphValidator"/> fills in the
/// index-based wiring (<see cref="Index"/>, <see cref="DependencyIndices"/>, <see cref="DependentIndices"/>,
/// <see cref="CriticalPath"/>) once; after that a definition is immutable and shared by every run of its graph.
/// </summary>
internal abstract class TaskDefinition
{
    protected TaskDefinition(string id, string[] dependsOn, TaskNodeOptions? options)
    {
        Id = id;
        DependencyIds = dependsOn;
        if (options is not null)
        {
            Priority = options.Priority;
            Cost = options.CostEstimate;
            Timeout = options.Timeout;
            Pipeline = options.ResiliencePipeline;
        }
    }

    public string Id { get; }

    /// <summary>Dependency ids as the user gave them, duplicates removed by the validator.</summary>
    public string[] DependencyIds { get; set; }

    public int Priority { get; }

    public double Cost { get; } = 1;

    public TimeSpan Timeout { get; } = System.Threading.Timeout.InfiniteTimeSpan;

    public ResiliencePipeline? Pipeline { get; }

    /// <summary>Position in the run's node list (static tasks first, then dynamic ones in the order added).</summary>
    public int Index { get; set; }

    /// <summary>Indices of the dependencies, sorted ascending so membership is a binary search.</summary>
    public int[] DependencyIndices { get; set; } = [];

    /// <summary>Indices of the tasks (of the same definition batch) that depend on this one.</summary>
    public int[] DependentIndices { get; set; } = [];

    /// <summary>The longest cost-weighted path from this task to a sink, this task included.</summary>
    public double CriticalPath { get; set; }

    /// <summary>The id of the task that added this one at run time; <see langword="null"/> for a static task.</summary>
    public string? AddedBy { get; set; }

    /// <summary>When a running task added this one (the start of its wait); a static task waits from its run's start.</summary>
    public DateTimeOffset AddedAt { get; set; }

    public abstract TaskNodeResult CreateNode();
}

/// <summary>A task whose body produces a value of type <typeparamref name="T"/>.</summary>
internal sealed class TaskDefinition<T> : TaskDefinition
{
    public TaskDefinition(string id, string[] dependsOn, Func<TaskGraphContext, CancellationToken, ValueTask<T>> body, TaskNodeOptions? options)
        : base(id, dependsOn, options)
    {
        Body = body;
    }

    public Func<TaskGraphContext, CancellationToken, ValueTask<T>> Body { get; }

    public override TaskNodeResult CreateNode() => new GraphNode<T>(this);
}

/// <summary>A task whose body produces no value.</summary>
internal sealed class VoidTaskDefinition : TaskDefinition
{
    public VoidTaskDefinition(string id, string[] dependsOn, Func<TaskGraphContext, CancellationToken, ValueTask> body, TaskNodeOptions? options)
        : base(id, dependsOn, options)
    {
        Body = body;
    }

    public Func<TaskGraphContext, CancellationToken, ValueTask> Body { get; }

    public override TaskNodeResult CreateNode() => new VoidGraphNode(this);
}
