using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>AgentPool with in-process DelegateAgents under many producers, agent faults, unhealthy agents, cancellations and a dispose mid-flight.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class AgentPoolStressTests(ITestOutputHelper output)
{
    private static readonly QueueFullMode[] Modes = [QueueFullMode.Wait, QueueFullMode.DropOldest, QueueFullMode.DropNewest, QueueFullMode.Reject];

    [Fact]
    public async Task Every_request_ends_exactly_once_under_faults_cancellation_and_dispose()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0, peak = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            QueueFullMode mode = Modes[round % Modes.Length];
            (Ledger ledger, int roundPeak) = await RunRoundAsync(seed, mode, StressProfile.Items);
            peak = Math.Max(peak, roundPeak);
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "AgentPool", $"seed={seed} mode={mode} {ledger.Summary()}");
        }

        monitor.CollectAndAssertNone("AgentPool");
        StressReport.Write(output, "AgentPool", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} peakQueue={peak} unobserved=0");
    }

    private static async Task<(Ledger, int)> RunRoundAsync(int seed, QueueFullMode mode, int items)
    {
        const int Capacity = 32;
        const int Producers = 8;
        var ledger = new Ledger(items);
        string context = $"AgentPool seed={seed} mode={mode} (replay with PARALLELEXEC_SEED={seed})";
        int agents = 0;
        var pool = Exec.Agents<DelegateAgent>((spec, ct) =>
            {
                string agentId = $"agent-{Interlocked.Increment(ref agents)}";
                DelegateAgent? self = null;
                self = new DelegateAgent(agentId, async (request, token) =>
                {
                    int id = int.Parse(request, System.Globalization.CultureInfo.InvariantCulture);
                    ledger.Started(id);
                    await Task.Yield();
                    if (id % 11 == 3)
                    {
                        throw ledger.Fault(id);
                    }

                    if (id % 97 == 1)
                    {
                        // The pool must retire this agent and spawn another after the reply.
                        self!.MarkUnhealthy();
                    }

                    ledger.Completed(id);
                    return request;
                });
                return ValueTask.FromResult(self);
            })
            .WithMaxAgents(3)
            .WithMaxConcurrencyPerAgent(2)
            .WithQueue(Capacity, mode)
            .Build();

        int ended = 0;
        int disposeAfter = items * 3 / 4;
        int peak = 0;
        var disposeStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sources = new System.Collections.Concurrent.ConcurrentBag<CancellationTokenSource>();

        async Task SubmitAsync(int id, CancellationToken cancellationToken)
        {
            try
            {
                string reply = await pool.RunAsync(id.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
                Assert.Equal(id.ToString(System.Globalization.CultureInfo.InvariantCulture), reply);
                ledger.End(id, Outcome.Succeeded);
            }
            catch (Exception exception)
            {
                ledger.EndWith(id, exception);
            }
            finally
            {
                if (Interlocked.Increment(ref ended) == disposeAfter)
                {
                    disposeStarted.TrySetResult();
                }
            }
        }

        async Task ProduceAsync(int producer)
        {
            var random = new Random(seed * 31 + producer);
            var calls = new List<Task>();
            for (int id = producer; id < items; id += Producers)
            {
                CancellationToken token = StressDraw.Cancellation(random, sources);

                calls.Add(SubmitAsync(id, token));
                int queue = pool.GetStatistics().QueueLength;
                StressDraw.InterlockedMax(ref peak, queue);
                if (random.Next(8) == 0)
                {
                    await Task.Yield();
                }
            }

            await Task.WhenAll(calls);
        }

        Task producers = Task.WhenAll(Enumerable.Range(0, Producers).Select(p => Task.Run(() => ProduceAsync(p))));
        await disposeStarted.Task.WithTimeout();
        await pool.DisposeAsync().WithTimeout();
        await producers.WithTimeout();
        foreach (CancellationTokenSource source in sources)
        {
            source.Dispose();
        }

        Assert.True(peak <= Capacity, $"{context}: sampled queue length {peak} > capacity {Capacity}");
        ledger.AssertConsistent(context);
        return (ledger, peak);
    }
}
