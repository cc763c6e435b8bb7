using Polly;

namespace ParallelExec.Pipelines;

/// <summary>
/// Turns the user's delegates into stage functions, routing them through the stage's Polly pipeline when it has one.
/// Synchronous delegates stay synchronous: their result is wrapped in a completed <see cref="ValueTask{TResult}"/>,
/// which allocates nothing.
/// </summary>
internal static class StageFunctions
{
    public static Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> Select<TIn, TOut>(Func<TIn, TOut> selector, ResiliencePipeline? resilience) =>
        resilience is null
            ? (item, _) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.One(selector(item)))
            : (item, ct) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.One(
                resilience.Execute(static (state, _) => state.selector(state.item), (selector, item), ct)));

    public static Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> SelectAsync<TIn, TOut>(
        Func<TIn, CancellationToken, ValueTask<TOut>> selector, ResiliencePipeline? resilience)
    {
        if (resilience is not null)
        {
            var inner = selector;
            selector = (item, ct) => resilience.ExecuteAsync(static (state, ct) => state.inner(state.item, ct), (inner, item), ct);
        }

        return (item, ct) =>
        {
            var pending = selector(item, ct);
            return pending.IsCompletedSuccessfully
                ? new ValueTask<StageResult<TOut>>(StageResult<TOut>.One(pending.Result))
                : AwaitOne(pending);
        };
    }

    public static Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> SelectAsync<TIn, TOut>(
        Func<TIn, CancellationToken, ValueTask<TOut>> selector, ResiliencePipeline<TOut> resilience) =>
        SelectAsync<TIn, TOut>((item, ct) => resilience.ExecuteAsync(static (state, ct) => state.selector(state.item, ct), (selector, item), ct), (ResiliencePipeline?)null);

    public static Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> SelectMany<TIn, TOut>(Func<TIn, IEnumerable<TOut>> selector, ResiliencePipeline? resilience) =>
        resilience is null
            ? (item, _) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.Several(selector(item)))
            : (item, ct) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.Several(
                resilience.Execute(static (state, _) => state.selector(state.item), (selector, item), ct)));

    public static Func<TIn, CancellationToken, ValueTask<StageResult<TOut>>> SelectManyAsync<TIn, TOut>(Func<TIn, CancellationToken, IAsyncEnumerable<TOut>> selector, ResiliencePipeline? resilience) =>
        resilience is null
            ? (item, ct) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.Several(selector(item, ct)))
            : (item, ct) => new ValueTask<StageResult<TOut>>(StageResult<TOut>.Several(
                resilience.Execute(static (state, ct) => state.selector(state.item, ct), (selector, item), ct)));

    public static Func<T, CancellationToken, ValueTask<StageResult<T>>> Where<T>(Func<T, bool> predicate, ResiliencePipeline? resilience) =>
        resilience is null
            ? (item, _) => new ValueTask<StageResult<T>>(predicate(item) ? StageResult<T>.One(item) : StageResult<T>.Filtered)
            : (item, ct) => new ValueTask<StageResult<T>>(resilience.Execute(static (state, _) => state.predicate(state.item), (predicate, item), ct)
                ? StageResult<T>.One(item)
                : StageResult<T>.Filtered);

    public static Func<T, CancellationToken, ValueTask<StageResult<T>>> Tap<T>(Func<T, CancellationToken, ValueTask> action, ResiliencePipeline? resilience) =>
        Run(action, resilience, static item => StageResult<T>.One(item));

    public static Func<T, CancellationToken, ValueTask<StageResult<T>>> ForEach<T>(Func<T, CancellationToken, ValueTask> action, ResiliencePipeline? resilience) =>
        Run(action, resilience, static _ => StageResult<T>.Consumed);

    private static Func<T, CancellationToken, ValueTask<StageResult<T>>> Run<T>(
        Func<T, CancellationToken, ValueTask> action, ResiliencePipeline? resilience, Func<T, StageResult<T>> after)
    {
        if (resilience is not null)
        {
            var inner = action;
            action = (item, ct) => resilience.ExecuteAsync(static (state, ct) => state.inner(state.item, ct), (inner, item), ct);
        }

        return (item, ct) =>
        {
            var pending = action(item, ct);
            if (pending.IsCompletedSuccessfully)
            {
                pending.GetAwaiter().GetResult();
                return new ValueTask<StageResult<T>>(after(item));
            }

            return AwaitThen(pending, item, after);
        };
    }

    /// <summary>Wraps a synchronous side effect as the asynchronous delegate the stages run.</summary>
    public static Func<T, CancellationToken, ValueTask> ToAsync<T>(Action<T> action) => (item, _) =>
    {
        action(item);
        return default;
    };

    /// <summary>Routes a transform through a non-generic pipeline, when there is one.</summary>
    public static Func<TIn, CancellationToken, ValueTask<TOut>> WithResilience<TIn, TOut>(Func<TIn, CancellationToken, ValueTask<TOut>> selector, ResiliencePipeline? resilience) =>
        resilience is null
            ? selector
            : (item, ct) => resilience.ExecuteAsync(static (state, ct) => state.selector(state.item, ct), (selector, item), ct);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<StageResult<TOut>> AwaitOne<TOut>(ValueTask<TOut> pending) => StageResult<TOut>.One(await pending.ConfigureAwait(false));

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<StageResult<T>> AwaitThen<T>(ValueTask pending, T item, Func<T, StageResult<T>> after)
    {
        await pending.ConfigureAwait(false);
        return after(item);
    }
}
