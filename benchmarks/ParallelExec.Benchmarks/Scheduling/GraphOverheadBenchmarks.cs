using BenchmarkDotNet.Attributes;
using ParallelExec.Scheduling;

namespace ParallelExec.Benchmarks.Scheduling;

/// <summary>
/// Scheduling overhead per task: 100,000 trivial synchronous tasks as a chain (each depends on the one before) or wide
/// (all independent). The baseline calls the same bodies in a loop; the graph adds dependency tracking, the ready heap,
/// timestamps and the result ledger. Figures are per task (<c>OperationsPerInvoke</c>).
/// </summary>
[MemoryDiagnoser]
public class GraphOverheadBenchmarks
{
    private const int Count = 100_000;

    private static readonly Func<TaskGraphContext, CancellationToken, ValueTask<int>> s_trivial = static (_, _) => ValueTask.FromResult(1);

    private TaskGraph _graph = null!;

    [Params("Chain", "Wide")]
    public string Shape { get; set; } = "Chain";

    [GlobalSetup]
    public void Setup() => _graph = Build();

    [Benchmark(Baseline = true, OperationsPerInvoke = Count)]
    public async Task<int> Sequential()
    {
        var sum = 0;
        for (var i = 0; i < Count; i++)
        {
            sum += await s_trivial(default, CancellationToken.None);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<int> ParallelExec()
    {
        var result = await _graph.RunAsync();
        return (int)result.Ledger.Succeeded;
    }

    [Benchmark(OperationsPerInvoke = Count)]
    public async Task<int> ParallelExec_BuildAndRun()
    {
        var result = await Build().RunAsync();
        return (int)result.Ledger.Succeeded;
    }

    private TaskGraph Build()
    {
        var builder = Exec.Graph().WithName("overhead-benchmark");
        string? previous = null;
        for (var i = 0; i < Count; i++)
        {
            var id = "n" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (Shape == "Chain" && previous is not null)
            {
                builder.AddTask(id, s_trivial, previous);
            }
            else
            {
                builder.AddTask(id, s_trivial);
            }

            previous = id;
        }

        return builder.Build();
    }
}
