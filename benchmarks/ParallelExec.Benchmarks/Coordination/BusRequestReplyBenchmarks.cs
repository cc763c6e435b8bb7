using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using ParallelExec.Coordination;

namespace ParallelExec.Benchmarks.Coordination;

/// <summary>
/// Request/reply round trips, one after the other (latency, not throughput). Figures are per round trip.
/// </summary>
[MemoryDiagnoser]
public class BusRequestReplyBenchmarks
{
    private const int RoundTrips = 10_000;

    private readonly Func<int, ValueTask<int>> _responder = request => new ValueTask<int>(request + 1);
    private CoordinationBus _bus = null!;
    private Channel<(int Request, TaskCompletionSource<int> Reply)> _requests = null!;
    private Task _channelResponder = Task.CompletedTask;

    [GlobalSetup]
    public void Setup()
    {
        _bus = Exec.Bus().Build();
        _bus.Respond<int, int>("svc.increment", (m, ct) => _responder(m.Message));
        _requests = System.Threading.Channels.Channel.CreateBounded<(int, TaskCompletionSource<int>)>(new BoundedChannelOptions(1024) { SingleReader = true });
        _channelResponder = Task.Run(async () =>
        {
            while (await _requests.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (_requests.Reader.TryRead(out var item))
                {
                    item.Reply.TrySetResult(await _responder(item.Request).ConfigureAwait(false));
                }
            }
        });
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        _requests.Writer.Complete();
        await _channelResponder.ConfigureAwait(false);
        await _bus.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The responder called directly.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = RoundTrips)]
    public async Task<int> Sequential()
    {
        var sum = 0;
        for (var i = 0; i < RoundTrips; i++)
        {
            sum += await _responder(i).ConfigureAwait(false);
        }

        return sum;
    }

    /// <summary>Hand-rolled: a request Channel read by a responder loop, a TaskCompletionSource per reply.</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public async Task<int> Channel()
    {
        var sum = 0;
        for (var i = 0; i < RoundTrips; i++)
        {
            var reply = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            await _requests.Writer.WriteAsync((i, reply)).ConfigureAwait(false);
            sum += await reply.Task.ConfigureAwait(false);
        }

        return sum;
    }

    /// <summary>The bus: RequestAsync to a responder subscription (with its timeout armed on every call).</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public async Task<int> ParallelExec()
    {
        var sum = 0;
        for (var i = 0; i < RoundTrips; i++)
        {
            sum += await _bus.RequestAsync<int, int>("svc.increment", i).ConfigureAwait(false);
        }

        return sum;
    }

    /// <summary>The bus with no timeout (<see cref="Timeout.InfiniteTimeSpan"/>): what arming the timeout costs.</summary>
    [Benchmark(OperationsPerInvoke = RoundTrips)]
    public async Task<int> ParallelExecNoTimeout()
    {
        var sum = 0;
        for (var i = 0; i < RoundTrips; i++)
        {
            sum += await _bus.RequestAsync<int, int>("svc.increment", i, Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        }

        return sum;
    }
}
