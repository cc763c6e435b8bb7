using BenchmarkDotNet.Attributes;
using ParallelExec.Scheduling;

namespace ParallelExec.Benchmarks.Scheduling;

/// <summary>
/// A layered DAG of simulated-latency tasks with uneven durations: 5 layers of 20 tasks, 5-40 ms each, every task of a
/// layer depending on 1-3 tasks of the layer before. Compares running it in topological order one task at a time
/// (the baseline), a hand-written <c>Task.WhenAll</c> per layer, and the task graph. <see cref="Ideal_CriticalPath"/>
/// awaits the critical path's length once: no schedule of this graph can be faster, so the graph's ratio to it is its
/// distance from ideal.
/// </summary>
[MemoryDiagnoser]
public class GraphLatencyBenchmarks
{
    private const int Layers = 5;
    private const int Width = 20;
    private const int MaxParallel = 32;

    private int[][] _durationsMs = [];
    private int[][][] _dependencies = [];
    private TaskGraph _graph = null!;

    /// <summary>The critical path of the generated graph, in milliseconds (printed in the setup output).</summary>
    public int CriticalPathMs { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20261127);
        _durationsMs = new int[Layers][];
        _dependencies = new int[Layers][][];
        var longestTo = new int[Layers][];
        for (var layer = 0; layer < Layers; layer++)
        {
            _durationsMs[layer] = new int[Width];
            _dependencies[layer] = new int[Width][];
            longestTo[layer] = new int[Width];
            for (var i = 0; i < Width; i++)
            {
                _durationsMs[layer][i] = random.Next(5, 41);
                _dependencies[layer][i] = layer == 0
                    ? []
                    : Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(0, Width)).Distinct().ToArray();
                var before = _dependencies[layer][i].Select(d => longestTo[layer - 1][d]).DefaultIfEmpty(0).Max();
                longestTo[layer][i] = before + _durationsMs[layer][i];
            }
        }

        CriticalPathMs = longestTo[Layers - 1].Max();
        var perLayerMs = _durationsMs.Sum(layer => layer.Max());
        var sequentialMs = _durationsMs.Sum(layer => layer.Sum());
        Console.WriteLine($"// Graph: critical path {CriticalPathMs} ms, per-layer WhenAll ideal {perLayerMs} ms, sequential {sequentialMs} ms, parallelism {MaxParallel}.");

        var builder = Exec.Graph().WithMaxDegreeOfParallelism(MaxParallel).WithName("latency-benchmark");
        for (var layer = 0; layer < Layers; layer++)
        {
            for (var i = 0; i < Width; i++)
            {
                var delay = TimeSpan.FromMilliseconds(_durationsMs[layer][i]);
                var previous = layer - 1;
                builder.AddTask(
                    Id(layer, i),
                    (_, ct) => new ValueTask(Task.Delay(delay, TimeProvider.System, ct)),
                    new TaskNodeOptions
                    {
                        DependsOn = _dependencies[layer][i].Select(d => Id(previous, d)).ToArray(),
                        CostEstimate = _durationsMs[layer][i],
                    });
            }
        }

        _graph = builder.Build();
    }

    [Benchmark(Baseline = true)]
    public async Task Sequential()
    {
        foreach (var layer in _durationsMs)
        {
            foreach (var duration in layer)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(duration), TimeProvider.System);
            }
        }
    }

    [Benchmark]
    public async Task WhenAll()
    {
        foreach (var layer in _durationsMs)
        {
            await Task.WhenAll(layer.Select(duration => Task.Delay(TimeSpan.FromMilliseconds(duration), TimeProvider.System)));
        }
    }

    [Benchmark]
    public async Task ParallelExec()
    {
        var result = await _graph.RunAsync();
        if (!result.IsSuccess)
        {
            throw new InvalidOperationException("The benchmark graph failed.", result.Exception);
        }
    }

    [Benchmark]
    public Task Ideal_CriticalPath() => Task.Delay(TimeSpan.FromMilliseconds(CriticalPathMs), TimeProvider.System);

    private static string Id(int layer, int index) => $"L{layer}T{index}";
}
