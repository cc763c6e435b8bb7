using BenchmarkDotNet.Attributes;
using ParallelExec.Coordination;

namespace ParallelExec.Benchmarks.Coordination;

/// <summary>
/// The coordination scenario of the analysis: 10 agents each need a 50 ms step and report to a coordinator. Step by
/// step, the coordinator starts an agent, waits for its report, then starts the next (about 500 ms). Event-driven, the
/// coordinator publishes one "start" event, every agent works when it receives it and publishes "done", and the
/// coordinator continues once it has seen all ten reports (about 50 ms).
/// </summary>
[MemoryDiagnoser]
public class BusCoordinationBenchmarks
{
    private const int Agents = 10;
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(50);

    private CoordinationBus _bus = null!;
    private TaskCompletionSource<int> _allReported = new();
    private int _reports;

    [GlobalSetup]
    public void Setup()
    {
        _bus = Exec.Bus().Build();
        for (var i = 0; i < Agents; i++)
        {
            var agent = i;
            _bus.Subscribe<int>("agents.start", async (m, ct) =>
            {
                await AgentStepAsync(ct).ConfigureAwait(false);
                await _bus.PublishAsync($"agents.{agent}.done", m.Message, ct).ConfigureAwait(false);
            });
        }

        _bus.Subscribe<int>("agents.*.done", m =>
        {
            if (Interlocked.Increment(ref _reports) == Agents)
            {
                _allReported.TrySetResult(m.Message);
            }
        });
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _bus.DisposeAsync().ConfigureAwait(false);

    /// <summary>Step by step: each agent's step is awaited before the next agent starts.</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> Sequential()
    {
        var reports = 0;
        for (var i = 0; i < Agents; i++)
        {
            await AgentStepAsync(CancellationToken.None).ConfigureAwait(false);
            reports++;
        }

        return reports;
    }

    /// <summary>The usual hand-written alternative: start every step and await them all.</summary>
    [Benchmark]
    public async Task<int> WhenAll()
    {
        var steps = new Task[Agents];
        for (var i = 0; i < Agents; i++)
        {
            steps[i] = AgentStepAsync(CancellationToken.None);
        }

        await Task.WhenAll(steps).ConfigureAwait(false);
        return Agents;
    }

    /// <summary>Event-driven over the bus: one start event fans out to the agents; their done events reach the coordinator.</summary>
    [Benchmark]
    public async Task<int> ParallelExec()
    {
        _reports = 0;
        _allReported = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await _bus.PublishAsync("agents.start", 1).ConfigureAwait(false);
        await _allReported.Task.ConfigureAwait(false);
        return Volatile.Read(ref _reports);
    }

    private static Task AgentStepAsync(CancellationToken cancellationToken) => Task.Delay(Step, cancellationToken);
}
