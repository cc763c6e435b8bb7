using ParallelExec.Coordination;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Coordination;

/// <summary>A resilience pipeline typed by the reply: responders of that reply type run through it, so that result-based
/// strategies apply; responders of other reply types and plain handlers do not.</summary>
public sealed class ReplyResilienceTests
{
    [Fact]
    public async Task A_reply_typed_pipeline_retries_a_responder_on_its_reply_and_applies_to_that_reply_type_only()
    {
        var calls = 0;
        var otherCalls = 0;
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddRetry(new RetryStrategyOptions<string>
            {
                MaxRetryAttempts = 3,
                Delay = TimeSpan.Zero,
                ShouldHandle = new PredicateBuilder<string>().HandleResult(reply => reply == "busy"),
            })
            .Build();
        await using var bus = Exec.Bus().WithResilience(pipeline).Build();
        using var responder = bus.Respond<int, string>("svc.name", (m, _) =>
            new ValueTask<string>(Interlocked.Increment(ref calls) == 1 ? "busy" : $"name-{m.Message}"));
        using var other = bus.Respond<int, int>("svc.number", (m, _) =>
        {
            Interlocked.Increment(ref otherCalls);
            return new ValueTask<int>(-1);
        });

        Assert.Equal("name-7", await bus.RequestAsync<int, string>("svc.name", 7).WithTimeout());
        Assert.Equal(2, calls);

        // An int responder is not under the string pipeline: its reply is taken as it is, after one call.
        Assert.Equal(-1, await bus.RequestAsync<int, int>("svc.number", 1).WithTimeout());
        Assert.Equal(1, otherCalls);
        Assert.Throws<ArgumentNullException>(() => Exec.Bus().WithResilience((ResiliencePipeline<string>)null!));
    }
}
