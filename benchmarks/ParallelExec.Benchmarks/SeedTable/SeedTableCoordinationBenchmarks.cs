using BenchmarkDotNet.Attributes;
using ParallelExec.Coordination;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// Seed table, row "coordination" (analysis: 500 ms per synchronous step, 100 ms async): a coordinator hands five pieces
/// of work to five agents over a <see cref="CoordinationBus"/> and needs every acknowledgement. The sequential way waits
/// for each hand-off before the next one (request/reply one at a time); ParallelExec sends all five and awaits the
/// replies together. <see cref="StepLatencyMs"/> 0 is the bus alone; 500 is the analysis's cost of one step (the peer
/// taking the work), paid inside each agent's handler.
/// </summary>
[MemoryDiagnoser]
public class SeedTableCoordinationBenchmarks
{
    private const int Steps = 5;
    private readonly string[] _topics = [.. Enumerable.Range(0, Steps).Select(static i => $"agents.agent-{i}.handoff")];
    private CoordinationBus _bus = null!;

    [Params(0, 500)]
    public int StepLatencyMs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _bus = Exec.Bus().WithName("seed-table").Build();
        foreach (var topic in _topics)
        {
            _bus.Respond<string, int>(topic, async (message, ct) =>
            {
                if (StepLatencyMs > 0)
                {
                    await Task.Delay(StepLatencyMs, ct);
                }

                return message.Message.Length;
            });
        }
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _bus.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public async Task<int> Sequential()
    {
        var acknowledged = 0;
        foreach (var topic in _topics)
        {
            acknowledged += await _bus.RequestAsync<string, int>(topic, "review module-07.md");
        }

        return acknowledged;
    }

    [Benchmark(OperationsPerInvoke = Steps)]
    public async Task<int> ParallelExec()
    {
        var replies = new Task<int>[Steps];
        for (var i = 0; i < Steps; i++)
        {
            replies[i] = _bus.RequestAsync<string, int>(_topics[i], "review module-07.md");
        }

        var acknowledged = 0;
        foreach (var reply in await Task.WhenAll(replies))
        {
            acknowledged += reply;
        }

        return acknowledged;
    }
}
