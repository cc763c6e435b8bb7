using ParallelExec.Pipelines;
using ParallelExec.Tests.Infrastructure;
using ParallelExec.Workers;

namespace ParallelExec.Tests.Pipelines;

/// <summary>
/// The ledger across stages, by item id: a million items through four stages with random failures, filters and
/// cancellations; every input ends exactly once, at a named stage, and the run's counts say the same.
/// </summary>
public class PipelineLedgerTests
{
    // Where an item ended: the stage index times 8 plus the kind (0 = not ended).
    private const int Succeeded = 1;
    private const int Failed = 2;
    private const int Filtered = 3;
    private const int Dropped = 4;

    private static readonly string[] s_stages = ["parse", "filter", "enrich", "sink"];

    [Theory]
    [InlineData(1_000_000, ResultOrder.Completion)]
    [InlineData(200_000, ResultOrder.Input)]
    public async Task EveryInputEndsOnceAtANamedStage(int count, ResultOrder order)
    {
        var endings = new int[count];
        var doubleEndings = 0;

        void End(int id, int stage, int kind)
        {
            if (Interlocked.CompareExchange(ref endings[id], (stage * 8) + kind, 0) != 0)
            {
                Interlocked.Increment(ref doubleEndings);
            }
        }

        static int Roll(int id, uint salt) => (int)(((((uint)id * 2654435761u) ^ salt) * 2246822519u >> 8) % 1000u);

        var pipeline = Exec.Pipeline<int>()
            .WithName("ledger")
            .OnError(failed => End((int)failed.Item!, Array.IndexOf(s_stages, (string)failed.Key!), Failed))
            .OnDropped(dropped => End((int)dropped.Item!, Array.IndexOf(s_stages, (string)dropped.Key!), Dropped))
            .Select(id => Roll(id, 1) switch
            {
                0 => throw new InvalidOperationException("parse failed"),
                1 => throw new OperationCanceledException("parse cancelled"),
                _ => id,
            }, stage => stage.WithName("parse").WithMaxDegreeOfParallelism(2).WithQueue(256).WithResultOrder(order))
            .Where(id =>
            {
                if (Roll(id, 2) % 10 == 0)
                {
                    End(id, 1, Filtered);
                    return false;
                }

                return true;
            }, stage => stage.WithName("filter").WithQueue(256))
            .Select((id, ct) => Roll(id, 3) switch
            {
                0 => ValueTask.FromException<int>(new InvalidOperationException("enrich failed")),
                1 => ValueTask.FromCanceled<int>(new CancellationToken(canceled: true)),
                2 => AwaitedAsync(id),
                _ => new ValueTask<int>(id),
            }, stage => stage.WithName("enrich").WithMaxDegreeOfParallelism(3).WithQueue(256).WithResultOrder(order))
            .ForEach(id =>
            {
                if (Roll(id, 4) == 0)
                {
                    throw new InvalidOperationException("sink failed");
                }

                End(id, 3, Succeeded);
            }, stage => stage.WithName("sink").WithQueue(256));

        var result = await pipeline.RunAsync(Enumerable.Range(0, count)).WithTimeout(TimeSpan.FromMinutes(2));

        Assert.Equal(PipelineOutcome.Completed, result.Outcome);
        Assert.Equal(0, doubleEndings);
        var perStage = new long[4, 5];
        for (var id = 0; id < count; id++)
        {
            var ending = endings[id];
            Assert.True(ending != 0, $"Item {id} never ended.");
            perStage[ending / 8, ending % 8]++;
        }

        for (var stage = 0; stage < 4; stage++)
        {
            var stats = result[s_stages[stage]];
            Assert.Equal(perStage[stage, Failed], stats.Failed);
            Assert.Equal(perStage[stage, Dropped], stats.Dropped);
            Assert.Equal(perStage[stage, Filtered], stats.Filtered);
            Assert.True(stats.Ledger.IsBalanced, stats.ToString());
            Assert.Equal(0, stats.Ledger.Queued + stats.Ledger.InFlight);
            Assert.Equal(stats.Entered, stats.Left + stats.Failed + stats.Filtered + stats.Dropped);
            if (stage < 3)
            {
                Assert.Equal(stats.Left, result[s_stages[stage + 1]].Entered);
            }
        }

        Assert.Equal(count, result["parse"].Entered);
        Assert.Equal(perStage[3, Succeeded], result["sink"].Left);
        Assert.True(result.Failed > 0 && result.Dropped > 0 && result["filter"].Filtered > 0, result.ToString());
    }

    private static async ValueTask<int> AwaitedAsync(int id)
    {
        await Task.Yield();
        return id;
    }
}
