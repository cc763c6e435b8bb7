using ParallelExec.Pipelines;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Hedging;
using Polly.Retry;

namespace ParallelExec.Tests.Pipelines;

/// <summary>
/// A <see cref="ResiliencePipeline{T}"/> is accepted wherever work returns a value: a pipeline's Select stage, the
/// worker pool's RunAsync and ProcessAsync, a graph task. A retry decided on the result, and hedging.
/// </summary>
public class ResultResilienceTests
{
    /// <summary>Retries while the result is negative: the first attempt of every item returns -1.</summary>
    private static ResiliencePipeline<int> RetryOnNegative() => new ResiliencePipelineBuilder<int>()
        .AddRetry(new RetryStrategyOptions<int>
        {
            ShouldHandle = new PredicateBuilder<int>().HandleResult(result => result < 0),
            MaxRetryAttempts = 3,
            Delay = TimeSpan.Zero,
        })
        .Build();

    /// <summary>Starts a second attempt at once; the first waits until it is cancelled, so only the hedge can answer.</summary>
    private static ResiliencePipeline<int> Hedge() => new ResiliencePipelineBuilder<int>()
        .AddHedging(new HedgingStrategyOptions<int> { MaxHedgedAttempts = 1, Delay = TimeSpan.Zero })
        .Build();

    [Fact]
    public async Task ASelectStageRetriesOnTheResult()
    {
        var attempts = new int[100];
        var outputs = new List<int>();
        var result = await Exec.Pipeline<int>()
            .Select((i, ct) => new ValueTask<int>(Interlocked.Increment(ref attempts[i]) == 1 ? -1 : i * 2), RetryOnNegative(),
                stage => stage.WithMaxDegreeOfParallelism(4).WithName("retry"))
            .ForEach(outputs.Add)
            .RunAsync(Enumerable.Range(0, 100))
            .WithTimeout();

        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => i * 2), outputs);
        Assert.All(attempts, count => Assert.Equal(2, count));
        Assert.Equal(0, result["retry"].Failed);
    }

    [Fact]
    public async Task ASelectStageTakesTheHedgedAnswer()
    {
        var calls = new int[20];
        var outputs = new List<int>();
        var result = await Exec.Pipeline<int>()
            .Select(async (i, ct) =>
            {
                if (Interlocked.Increment(ref calls[i]) == 1)
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }

                return i + 1000;
            }, Hedge())
            .ForEach(outputs.Add)
            .RunAsync(Enumerable.Range(0, 20))
            .WithTimeout();

        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        Assert.Equal(Enumerable.Range(1000, 20), outputs);
        Assert.All(calls, count => Assert.Equal(2, count));
    }

    [Fact]
    public async Task TheWorkerPoolRetriesOnTheResultAndHedges()
    {
        await using var pool = Exec.WorkerPool().WithMaxDegreeOfParallelism(2).Build();
        var attempts = 0;
        var value = await pool.RunAsync(ct => new ValueTask<int>(Interlocked.Increment(ref attempts) < 3 ? -1 : 42), RetryOnNegative()).WithTimeout();
        Assert.Equal(42, value);
        Assert.Equal(3, attempts);

        var calls = 0;
        var hedged = await pool.RunAsync(async ct =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                await Task.Delay(Timeout.Infinite, ct);
            }

            return 7;
        }, Hedge()).WithTimeout();
        Assert.Equal(7, hedged);

        var perItem = new int[10];
        var results = new List<int>();
        await foreach (var result in pool.ProcessAsync(Enumerable.Range(0, 10),
            (i, ct) => new ValueTask<int>(Interlocked.Increment(ref perItem[i]) == 1 ? -1 : i), RetryOnNegative()))
        {
            results.Add(result);
        }

        Assert.Equal(Enumerable.Range(0, 10), results);
    }

    [Fact]
    public async Task AGraphTaskRetriesOnTheResult()
    {
        var attempts = 0;
        var result = await Exec.Graph()
            .AddTask("answer", (context, ct) => new ValueTask<int>(Interlocked.Increment(ref attempts) == 1 ? -1 : 42), RetryOnNegative())
            .AddTask("double", (context, ct) => new ValueTask<int>(context.GetResult<int>("answer") * 2), "answer")
            .Build()
            .RunAsync()
            .WithTimeout();

        Assert.True(result.IsSuccess);
        Assert.Equal(84, result["double"].Value);
        Assert.Equal(2, attempts);
    }
}
