using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ParallelExec.Coordination;

namespace ParallelExec.Benchmarks.Coordination;

/// <summary>
/// 100,000 messages published to one topic and delivered to 1 or 4 subscribers, each subscriber handling them in
/// order on its own. Figures are per message (OperationsPerInvoke). The handler only counts, so the figures show the
/// cost of the delivery machinery itself.
/// </summary>
[MemoryDiagnoser]
public class BusFanOutBenchmarks
{
    private const int Messages = 100_000;
    private const int QueueCapacity = 1024;

    private long[] _counts = [];

    [Params(1, 4)]
    public int Subscribers { get; set; }

    [GlobalSetup]
    public void Setup() => _counts = new long[Subscribers * 16];

    /// <summary>Direct handler calls, one subscriber after the other: no queues, no concurrency.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Messages)]
    public long Sequential()
    {
        var counts = _counts;
        for (var i = 0; i < Messages; i++)
        {
            for (var s = 0; s < Subscribers; s++)
            {
                Handle(counts, s, i);
            }
        }

        return counts[0];
    }

    /// <summary>TPL Dataflow: a BroadcastBlock linked to one ActionBlock per subscriber (unbounded: bounded targets would
    /// make the BroadcastBlock drop messages).</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> BroadcastBlock()
    {
        var counts = _counts;
        var broadcast = new BroadcastBlock<int>(null);
        var targets = new ActionBlock<int>[Subscribers];
        for (var s = 0; s < Subscribers; s++)
        {
            var index = s;
            targets[s] = new ActionBlock<int>(i => Handle(counts, index, i));
            broadcast.LinkTo(targets[s], new DataflowLinkOptions { PropagateCompletion = true });
        }

        for (var i = 0; i < Messages; i++)
        {
            broadcast.Post(i);
        }

        broadcast.Complete();
        foreach (var target in targets)
        {
            await target.Completion.ConfigureAwait(false);
        }

        return counts[0];
    }

    /// <summary>Hand-rolled fan-out: one bounded Channel per subscriber (same capacity as the bus's mailboxes) and a
    /// reader loop each.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> Channel()
    {
        var counts = _counts;
        var channels = new Channel<int>[Subscribers];
        var readers = new Task[Subscribers];
        for (var s = 0; s < Subscribers; s++)
        {
            var channel = System.Threading.Channels.Channel.CreateBounded<int>(new BoundedChannelOptions(QueueCapacity) { SingleReader = true });
            channels[s] = channel;
            var index = s;
            readers[s] = Task.Run(async () =>
            {
                while (await channel.Reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (channel.Reader.TryRead(out var i))
                    {
                        Handle(counts, index, i);
                    }
                }
            });
        }

        for (var i = 0; i < Messages; i++)
        {
            foreach (var channel in channels)
            {
                if (!channel.Writer.TryWrite(i))
                {
                    await channel.Writer.WriteAsync(i).ConfigureAwait(false);
                }
            }
        }

        foreach (var channel in channels)
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(readers).ConfigureAwait(false);
        return counts[0];
    }

    /// <summary>The coordination bus: one subscription per subscriber on a wildcard pattern, default mailbox (1024, Wait),
    /// published with PublishAsync; DisposeAsync drains.</summary>
    [Benchmark(OperationsPerInvoke = Messages)]
    public async Task<long> ParallelExec()
    {
        var counts = _counts;
        var bus = Exec.Bus().WithQueue(QueueCapacity).Build();
        for (var s = 0; s < Subscribers; s++)
        {
            var index = s;
            bus.Subscribe<int>("bench.*.events", m => Handle(counts, index, m.Message));
        }

        for (var i = 0; i < Messages; i++)
        {
            await bus.PublishAsync("bench.fanout.events", i).ConfigureAwait(false);
        }

        await bus.DisposeAsync().ConfigureAwait(false);
        return counts[0];
    }

    // Each subscriber writes its own cache line (index * 16 longs apart), as independent agents would.
    private static void Handle(long[] counts, int subscriber, int message) => counts[subscriber * 16] += message & 1;
}
