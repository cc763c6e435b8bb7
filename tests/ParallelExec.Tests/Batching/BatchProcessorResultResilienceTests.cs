using ParallelExec.Batching;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Batching;

/// <summary>A resilience pipeline typed by the handler's result: strategies that look at the result (here a retry on a
/// result that is not good enough) plug in, for both handler shapes.</summary>
public sealed class BatchProcessorResultResilienceTests
{
    [Fact]
    public async Task A_result_typed_pipeline_retries_a_by_position_handler_on_its_result()
    {
        var calls = 0;
        var pipeline = new ResiliencePipelineBuilder<IReadOnlyList<int>>()
            .AddRetry(new RetryStrategyOptions<IReadOnlyList<int>>
            {
                MaxRetryAttempts = 3,
                Delay = TimeSpan.Zero,
                ShouldHandle = new PredicateBuilder<IReadOnlyList<int>>().HandleResult(results => results.Contains(-1)),
            })
            .Build();
        await using var processor = Exec.Batch<int, int>((items, _) =>
            {
                // The first call answers "not ready" (-1) for every item; the retry sees the result and calls again.
                var first = Interlocked.Increment(ref calls) == 1;
                return new ValueTask<IReadOnlyList<int>>(items.Select(i => first ? -1 : i * 10).ToArray());
            })
            .WithMaxBatchSize(3)
            .WithResilience(pipeline)
            .Build();

        var results = await processor.SubmitManyAsync([1, 2, 3]).AsTask().WithTimeout();

        Assert.Equal(new[] { 10, 20, 30 }, results);
        Assert.Equal(2, calls);
    }

    [Fact]
    public async Task A_result_typed_pipeline_retries_a_by_key_handler_that_missed_keys_and_the_wrong_shape_is_refused()
    {
        var calls = 0;
        var pipeline = new ResiliencePipelineBuilder<IReadOnlyDictionary<int, string>>()
            .AddRetry(new RetryStrategyOptions<IReadOnlyDictionary<int, string>>
            {
                MaxRetryAttempts = 3,
                Delay = TimeSpan.Zero,
                ShouldHandle = new PredicateBuilder<IReadOnlyDictionary<int, string>>().HandleResult(results => results.Count < 2),
            })
            .Build();
        var builder = Exec.BatchByKey<int, string>((items, _) =>
            {
                var missing = Interlocked.Increment(ref calls) == 1;
                return new ValueTask<IReadOnlyDictionary<int, string>>(items.Skip(missing ? 1 : 0).ToDictionary(i => i, i => $"v{i}"));
            })
            .WithMaxBatchSize(2);

        var wrongShape = new ResiliencePipelineBuilder<IReadOnlyList<string>>().Build();
        Assert.Equal("pipeline", Assert.Throws<ArgumentException>(() => builder.WithResilience(wrongShape)).ParamName);
        await using var processor = builder.WithResilience(pipeline).Build();

        var results = await processor.SubmitManyAsync([1, 2]).AsTask().WithTimeout();

        Assert.Equal(new[] { "v1", "v2" }, results);
        Assert.Equal(2, calls);
    }
}
