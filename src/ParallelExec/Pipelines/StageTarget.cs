namespace ParallelExec.Pipelines;

/// <summary>Where a stage writes its outputs: the next stage's input queue, the output of a streaming run, or nowhere.</summary>
/// <typeparam name="T">The output type.</typeparam>
internal abstract class StageTarget<T>
{
    /// <summary>Writes one output, waiting for room (backpressure); throws <see cref="OperationCanceledException"/> when the run is cancelled.</summary>
    public abstract ValueTask WriteAsync(T item, CancellationToken cancellationToken);

    /// <summary>Tells the target that nothing more comes.</summary>
    public abstract void Complete();
}

/// <summary>The target of a sink stage (<c>ForEach</c>), which has no outputs.</summary>
internal sealed class NullTarget<T> : StageTarget<T>
{
    public static readonly NullTarget<T> Instance = new();

    public override ValueTask WriteAsync(T item, CancellationToken cancellationToken) => default;

    public override void Complete()
    {
    }
}
