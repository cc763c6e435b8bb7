namespace ParallelExec.Scheduling;

/// <summary>The run state of a task that produces a <typeparamref name="T"/>; one instance per task per run.</summary>
internal sealed class GraphNode<T> : TaskNodeResult
{
    private readonly TaskDefinition<T> _definition;
    private T _value = default!;

    public GraphNode(TaskDefinition<T> definition)
        : base(definition)
    {
        _definition = definition;
    }

    internal override object? BoxedValue => _value;

    internal override TValue ReadValue<TValue>()
    {
        if (_value is TValue value)
        {
            return value;
        }

        if (_value is null && default(TValue) is null)
        {
            return default!;
        }

        throw new InvalidCastException($"Task '{Id}' returned a {typeof(T)}, which is not a {typeof(TValue)}.");
    }

    internal override ValueTask InvokeAsync(TaskGraphContext context, CancellationToken cancellationToken)
    {
        var pipeline = _definition.Pipeline;
        var pending = pipeline is null
            ? _definition.Body(context, cancellationToken)
            : pipeline.ExecuteAsync(static (state, token) => state.Body(state.Context, token), (_definition.Body, Context: context), cancellationToken);

        // Trivial synchronous bodies complete here, without a state machine or an allocation.
        if (pending.IsCompletedSuccessfully)
        {
            _value = pending.Result;
            return default;
        }

        return StoreWhenCompletedAsync(pending);
    }

    private async ValueTask StoreWhenCompletedAsync(ValueTask<T> pending) => _value = await pending.ConfigureAwait(false);
}

/// <summary>The run state of a task that produces no value.</summary>
internal sealed class VoidGraphNode : TaskNodeResult
{
    private readonly VoidTaskDefinition _definition;

    public VoidGraphNode(VoidTaskDefinition definition)
        : base(definition)
    {
        _definition = definition;
    }

    internal override object? BoxedValue => null;

    internal override TValue ReadValue<TValue>() =>
        throw new InvalidOperationException($"Task '{Id}' returns no value.");

    internal override ValueTask InvokeAsync(TaskGraphContext context, CancellationToken cancellationToken)
    {
        var pipeline = _definition.Pipeline;
        return pipeline is null
            ? _definition.Body(context, cancellationToken)
            : pipeline.ExecuteAsync(static (state, token) => state.Body(state.Context, token), (_definition.Body, Context: context), cancellationToken);
    }
}
