using System.Collections.Concurrent;
using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>TaskGraph on random DAGs with random failures, every failure policy and a cancellation mid-run.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class TaskGraphStressTests(ITestOutputHelper output)
{
    private static readonly FailurePolicy[] Policies = [FailurePolicy.ContinueAll, FailurePolicy.SkipDependents, FailurePolicy.FailFast, FailurePolicy.SkipDependents];

    [Fact]
    public async Task Every_node_is_reported_exactly_once_in_dependency_order_within_the_parallelism_bound()
    {
        using var monitor = new UnobservedExceptionMonitor();
        int totalItems = 0, totalFaults = 0, totalUnaccounted = 0;
        for (int round = 0; round < StressProfile.Rounds; round++)
        {
            int seed = StressProfile.Seed(round);
            FailurePolicy policy = Policies[round % Policies.Length];
            bool cancelMidRun = round % Policies.Length == 3;
            Ledger ledger = await RunRoundAsync(seed, policy, cancelMidRun, StressProfile.Items / 4);
            totalItems += ledger.Expected;
            totalFaults += ledger.FaultsInjected;
            totalUnaccounted += ledger.Unaccounted;
            StressReport.Write(output, "TaskGraph", $"seed={seed} policy={policy} cancelMidRun={cancelMidRun} {ledger.Summary()}");
        }

        monitor.CollectAndAssertNone("TaskGraph");
        StressReport.Write(output, "TaskGraph", $"TOTAL items={totalItems} faultsInjected={totalFaults} unaccounted={totalUnaccounted} unobserved=0");
    }

    private static async Task<Ledger> RunRoundAsync(int seed, FailurePolicy policy, bool cancelMidRun, int nodes)
    {
        const int Parallelism = 4;
        var ledger = new Ledger(nodes);
        string context = $"TaskGraph seed={seed} policy={policy} cancel={cancelMidRun} (replay with PARALLELEXEC_SEED={seed})";
        var random = new Random(seed);
        var dependencies = new int[nodes][];
        long sequence = 0;
        var endedAt = new ConcurrentDictionary<int, long>();
        var problems = new ConcurrentQueue<string>();
        int running = 0, peakRunning = 0, finished = 0;
        using var cts = new CancellationTokenSource();

        var builder = Exec.Graph().WithMaxDegreeOfParallelism(Parallelism).WithFailurePolicy(policy);
        for (int id = 0; id < nodes; id++)
        {
            int node = id;
            dependencies[node] = id == 0 ? [] : Enumerable.Range(0, random.Next(0, 4)).Select(_ => random.Next(0, node)).Distinct().ToArray();
            bool fails = random.Next(100) < 3;
            bool yields = random.Next(4) == 0;
            builder.AddTask(
                Name(node),
                async (context, ct) =>
                {
                    ledger.Started(node);
                    long startedAt = Interlocked.Increment(ref sequence);
                    foreach (int dependency in dependencies[node])
                    {
                        if (!endedAt.TryGetValue(dependency, out long ended) || ended > startedAt)
                        {
                            problems.Enqueue($"node {node} started before its dependency {dependency} ended");
                        }
                    }

                    int now = Interlocked.Increment(ref running);
                    StressDraw.InterlockedMax(ref peakRunning, now);

                    try
                    {
                        if (yields)
                        {
                            await Task.Yield();
                        }

                        if (cancelMidRun && Interlocked.Increment(ref finished) == nodes / 2)
                        {
                            await cts.CancelAsync();
                        }

                        if (fails)
                        {
                            throw ledger.Fault(node);
                        }

                        ct.ThrowIfCancellationRequested();
                        ledger.Completed(node);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                        endedAt[node] = Interlocked.Increment(ref sequence);
                    }
                },
                dependencies[node].Select(Name).ToArray());
        }

        TaskGraph graph = builder.Build();
        TaskGraphResult result = await graph.RunAsync(cts.Token).WithTimeout();

        Assert.True(result.Tasks.Count == nodes, $"{context}: {result.Tasks.Count} results for {nodes} nodes");
        Assert.True(result.Tasks.Select(t => t.Id).Distinct().Count() == nodes, $"{context}: a node is reported twice");
        Assert.True(result.SucceededCount + result.FailedCount + result.SkippedCount + result.CancelledCount == nodes, $"{context}: status counts do not add up");
        Assert.True(peakRunning <= Parallelism, $"{context}: {peakRunning} nodes ran at once, bound {Parallelism}");
        Assert.True(problems.IsEmpty, $"{context}: {string.Join("; ", problems.Take(5))}");
        foreach (TaskNodeResult task in result.Tasks)
        {
            int node = int.Parse(task.Id.AsSpan(1), System.Globalization.CultureInfo.InvariantCulture);
            switch (task.Status)
            {
                case TaskNodeStatus.Succeeded:
                    ledger.End(node, Outcome.Succeeded);
                    break;
                case TaskNodeStatus.Failed:
                    Assert.True(task.Exception is InjectedFaultException, $"{context}: node {node} failed with {task.Exception}");
                    ledger.End(node, Outcome.Failed);
                    break;
                case TaskNodeStatus.Cancelled:
                    ledger.End(node, Outcome.Cancelled);
                    break;
                case TaskNodeStatus.Skipped:
                    // Skipped is this component's "dropped": the body must never have run.
                    ledger.End(node, Outcome.Dropped);
                    break;
            }

            if (policy == FailurePolicy.SkipDependents && task.Status == TaskNodeStatus.Succeeded)
            {
                foreach (int dependency in dependencies[node])
                {
                    Assert.True(result[Name(dependency)].Status == TaskNodeStatus.Succeeded, $"{context}: node {node} succeeded although dependency {dependency} is {result[Name(dependency)].Status}");
                }
            }
        }

        ledger.AssertConsistent(context);
        return ledger;
    }

    private static string Name(int node) => $"n{node}";
}
