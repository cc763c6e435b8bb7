using System.Collections.Concurrent;
using CsCheck;
using ParallelExec.Scheduling;
using ParallelExec.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>TaskGraph on random DAGs with random failures, every failure policy and a cancellation mid-run.</summary>
[Collection(StressCollection.Name)]
[Trait("Category", "Stress")]
public sealed class TaskGraphStressTests(ITestOutputHelper output)
{
    /// <summary>One node of a generated graph.</summary>
    /// <param name="Dependencies">Raw dependency draws (0-3 of them), mapped to earlier nodes by <see cref="DependenciesOf"/>.</param>
    /// <param name="Fails">Whether its body throws.</param>
    /// <param name="Yields">Whether its body yields first.</param>
    public readonly record struct Node(uint[] Dependencies, bool Fails, bool Yields);

    /// <summary>One round: failure policy, whether the run is cancelled at half the nodes, the parallelism bound, the nodes.</summary>
    public sealed record Schedule(FailurePolicy Policy, bool CancelMidRun, int Parallelism, Node[] Nodes);

    private static readonly Gen<Node> NodeGen =
        from dependencies in Gen.UInt.Array[0, 3]
        from fails in Gen.Int[0, 99].Select(i => i < 3)
        from yields in Gen.Int[0, 3].Select(i => i == 0)
        select new Node(dependencies, fails, yields);

    private static readonly Gen<Schedule> ScheduleGen =
        from policy in Gen.Enum<FailurePolicy>()
        from cancel in Gen.Int[0, 3].Select(i => i == 0)
        from parallelism in Gen.Int[2, 6]
        from nodes in NodeGen.Array[StressProfile.Items]
        select new Schedule(policy, cancel, parallelism, nodes);

    /// <summary>Node <paramref name="node"/>'s dependencies: distinct earlier nodes (a DAG by construction).</summary>
    private static int[] DependenciesOf(Schedule schedule, int node) =>
        node == 0 ? [] : schedule.Nodes[node].Dependencies.Select(d => (int)(d % (uint)node)).Distinct().ToArray();

    private static string Describe(Schedule s) =>
        $"policy={s.Policy} cancelMidRun={s.CancelMidRun} parallelism={s.Parallelism} nodes={s.Nodes.Length} failing={s.Nodes.Count(n => n.Fails)} edges={s.Nodes.Sum(n => n.Dependencies.Length)}";

    [Fact]
    public async Task Every_node_is_reported_exactly_once_in_dependency_order_within_the_parallelism_bound()
    {
        using var monitor = new UnobservedExceptionMonitor();
        var retained = new RetainedAcrossRounds();
        var totals = new StressTotals(output, "TaskGraph");
        await StressRun.RoundsAsync("TaskGraph", ScheduleGen, async (schedule, seed) =>
        {
            Ledger ledger = await RunRoundAsync(schedule, seed);
            totals.Cover(schedule.Policy);
            totals.Add(ledger, $"seed={seed} policy={schedule.Policy} cancelMidRun={schedule.CancelMidRun} parallelism={schedule.Parallelism} {ledger.Summary()}");
        }, Describe, (s, r) => s.Policy == (FailurePolicy)(r % 3) && s.CancelMidRun == (r % 4 == 3), retained);

        monitor.CollectAndAssertNone("TaskGraph");
        totals.WriteTotal(StressProfile.Million, "unobserved=0");
        await retained.AssertBoundedAsync(output, "TaskGraph", WorkerPoolStressTests.RetainedBound);
        totals.AssertCoveredEvery(Enum.GetValues<FailurePolicy>().Length, "failure policy");
    }

    [Fact]
    public async Task Memory_per_node_stays_bounded()
    {
        // A graph is built and run per operation, so the unit is a run of a 64-node graph; the figure is per node.
        const int NodesPerGraph = 64;
        string[] names = Enumerable.Range(0, NodesPerGraph).Select(Name).ToArray();
        string[][] dependencies = Enumerable.Range(0, NodesPerGraph).Select(n => n == 0 ? Array.Empty<string>() : [names[n / 2]]).ToArray();
        Func<TaskGraphContext, CancellationToken, ValueTask> body = static (_, _) => ValueTask.CompletedTask;
        MemoryFigures perGraph = await MemoryProbe.MeasureAsync(async id =>
        {
            if (id % NodesPerGraph != 0)
            {
                return 0;
            }

            var builder = Exec.Graph().WithMaxDegreeOfParallelism(4);
            for (int n = 0; n < NodesPerGraph; n++)
            {
                builder.AddTask(names[n], body, dependencies[n]);
            }

            TaskGraphResult result = await builder.Build().RunAsync();
            return (int)result.Ledger.Succeeded;
        });
        // Every 64th probe item runs a graph; the others cost nothing, so the per-item figure is already per node.
        MemoryProbe.AssertBounded(output, "TaskGraph", perGraph, maxBytesPerItem: 1024, maxRetainedGrowth: MemoryProbe.RetainedGrowthBound);
    }

    private static async Task<Ledger> RunRoundAsync(Schedule schedule, string seed)
    {
        int parallelism = schedule.Parallelism;
        FailurePolicy policy = schedule.Policy;
        bool cancelMidRun = schedule.CancelMidRun;
        int nodes = schedule.Nodes.Length;
        var ledger = new Ledger(nodes);
        string context = $"TaskGraph seed={seed} policy={policy} cancel={cancelMidRun} parallelism={parallelism} (replay with PARALLELEXEC_SEED={seed})";
        var dependencies = new int[nodes][];
        long sequence = 0;
        // 0: not ended yet; otherwise the sequence number at which the node's body ended.
        var endedAt = new long[nodes];
        var problems = new ConcurrentQueue<string>();
        int running = 0, peakRunning = 0, finished = 0;
        using var cts = new CancellationTokenSource();

        var builder = Exec.Graph().WithMaxDegreeOfParallelism(parallelism).WithFailurePolicy(policy);
        for (int id = 0; id < nodes; id++)
        {
            int node = id;
            dependencies[node] = DependenciesOf(schedule, node);
            bool fails = schedule.Nodes[node].Fails;
            bool yields = schedule.Nodes[node].Yields;
            builder.AddTask(
                Name(node),
                async (context, ct) =>
                {
                    ledger.Started(node);
                    long startedAt = Interlocked.Increment(ref sequence);
                    foreach (int dependency in dependencies[node])
                    {
                        long ended = Volatile.Read(ref endedAt[dependency]);
                        if (ended == 0 || ended > startedAt)
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
                            ledger.CancelRequestedForAll();
                            await cts.CancelAsync();
                        }

                        if (fails)
                        {
                            if (policy == FailurePolicy.FailFast)
                            {
                                // FailFast cancels the rest of the run: the nodes it cancels were cancelled by this failure.
                                ledger.CancelRequestedForAll();
                            }

                            throw ledger.Fault(node);
                        }

                        ct.ThrowIfCancellationRequested();
                        ledger.Completed(node);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref running);
                        Volatile.Write(ref endedAt[node], Interlocked.Increment(ref sequence));
                    }
                },
                Array.ConvertAll(dependencies[node], Name));
        }

        TaskGraph graph = builder.Build();
        RetainedAcrossRounds.Track(graph);
        TaskGraphResult result = await graph.RunAsync(cts.Token).WithTimeout();

        Assert.True(result.Tasks.Count == nodes, $"{context}: {result.Tasks.Count} results for {nodes} nodes");
        Assert.True(result.Tasks.Select(t => t.Id).Distinct().Count() == nodes, $"{context}: a node is reported twice");
        Assert.True(result.Ledger.Ended == nodes && result.Ledger.IsBalanced, $"{context}: status counts do not add up");
        Assert.True(peakRunning <= parallelism, $"{context}: {peakRunning} nodes ran at once, bound {parallelism}");
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

    // The ids are the graph's API (strings): made once for the largest round and shared by the rounds.
    private static readonly string[] Names = Enumerable.Range(0, StressProfile.Items).Select(n => $"n{n}").ToArray();

    private static string Name(int node) => node < Names.Length ? Names[node] : $"n{node}";
}
