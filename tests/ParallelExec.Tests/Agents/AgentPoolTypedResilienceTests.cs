using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// <see cref="ResiliencePipeline{T}"/> on the agent pool: a result-based retry sees the responses (for RunAsync, set
/// with the builder's <c>WithResilience</c>) or the operation's results (per call of ExecuteAsync).
/// </summary>
public sealed class AgentPoolTypedResilienceTests
{
    [Fact]
    public async Task AResponsePipelineRetriesOnAResultAndTheRequestEndsOnceInTheLedger()
    {
        var calls = 0;
        var factory = new RecordingFactory((_, request, _) =>
            ValueTask.FromResult(Interlocked.Increment(ref calls) < 3 ? "busy" : "done:" + request));
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddRetry(new RetryStrategyOptions<string>
            {
                ShouldHandle = new PredicateBuilder<string>().HandleResult("busy"),
                MaxRetryAttempts = 5,
                Delay = TimeSpan.Zero,
            })
            .Build();
        await using var pool = Exec.Agents(factory).WithResilience(pipeline).Build();

        Assert.Equal("done:job", await pool.RunAsync("job").AsTask().WithTimeout());

        Assert.Equal(3, calls);
        var ledger = pool.GetStatistics().Ledger;
        Assert.Equal((1L, 1L, 0L, 0L), (ledger.Submitted, ledger.Succeeded, ledger.Failed, ledger.InFlight));
    }

    [Fact]
    public async Task ExecuteAsyncTakesAPipelineOfItsOwnResultType()
    {
        var attempts = 0;
        var pipeline = new ResiliencePipelineBuilder<int>()
            .AddRetry(new RetryStrategyOptions<int>
            {
                ShouldHandle = new PredicateBuilder<int>().HandleResult(r => r < 0),
                MaxRetryAttempts = 3,
                Delay = TimeSpan.Zero,
            })
            .Build();
        await using var pool = Exec.Agents(new RecordingFactory()).Build();

        var result = await pool.ExecuteAsync(
            (agent, _) => ValueTask.FromResult(Interlocked.Increment(ref attempts) == 1 ? -1 : agent.Id.Length),
            pipeline).AsTask().WithTimeout();

        Assert.True(result > 0);
        Assert.Equal(2, attempts);
        Assert.Equal(1, pool.GetStatistics().Ledger.Succeeded);
    }
}
