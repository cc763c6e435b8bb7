using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using ParallelExec.Redis;
using ParallelExec.Testing;
using StackExchange.Redis;

namespace ParallelExec.Benchmarks.Redis;

/// <summary>
/// Throughput of the Redis work queue (string payloads, as RedisWorker consumes): 1,000 items of 1 ms simulated I/O each, consumed by 1, 2 or 3 consumer
/// processes (RedisWorker, 8 at a time each) against the same work done one item at a time in this process. An
/// invocation enqueues the items in one pipelined call and ends when every item's completion is in the ledger list.
/// </summary>
public class RedisQueueBenchmarks
{
    private const int Items = 1_000;
    private const int WorkMilliseconds = 1;

    private RedisServerProcess _server = null!;
    private ConnectionMultiplexer _connection = null!;
    private RedisWorkQueue<string> _queue = null!;
    private readonly List<Process> _consumers = [];
    private KeyValuePair<string, string>[] _items = null!;
    private int _round;

    /// <summary>Gets or sets how many consumer processes run the items.</summary>
    [Params(1, 2, 3)]
    public int ConsumerProcesses { get; set; }

    private string Stream => $"bench:queue:{ConsumerProcesses}";

    private string Ledger => Stream + ":ledger";

    [GlobalSetup]
    public async Task Setup()
    {
        _server = await RedisServerProcess.StartAsync();
        _connection = await ConnectionMultiplexer.ConnectAsync(_server.Configuration);
        _queue = new RedisWorkQueue<string>(new RedisWorkQueueOptions { Configuration = _server.Configuration, StreamKey = Stream });
        for (var i = 0; i < ConsumerProcesses; i++)
        {
            var consumer = RedisWorkerLocator.Start("consume", _server.Configuration, Stream, "consumer-" + i, Ledger, WorkMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "30000", "8");
            if (await consumer.StandardOutput.ReadLineAsync() != "ready")
            {
                throw new InvalidOperationException("A RedisWorker consumer did not start: " + await consumer.StandardError.ReadToEndAsync());
            }

            _consumers.Add(consumer);
        }
    }

    [IterationSetup]
    public void NextRound()
    {
        _round++;
        _items = Enumerable.Range(0, Items).Select(i => new KeyValuePair<string, string>($"r{_round}-{i}", "item " + i)).ToArray();
        _connection.GetDatabase().KeyDelete(Ledger);
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        foreach (var consumer in _consumers)
        {
            await consumer.StandardInput.WriteLineAsync("stop");
            await consumer.StandardInput.FlushAsync();
            if (!consumer.WaitForExit(10_000))
            {
                consumer.Kill();
            }

            consumer.Dispose();
        }

        await _queue.DisposeAsync();
        await _connection.DisposeAsync();
        await _server.DisposeAsync();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items)]
    public async Task<long> Sequential()
    {
        var db = _connection.GetDatabase();
        foreach (var (id, _) in _items)
        {
            await Task.Delay(WorkMilliseconds);
            await db.ListRightPushAsync(Ledger, id);
        }

        return await db.ListLengthAsync(Ledger);
    }

    [Benchmark(OperationsPerInvoke = Items)]
    public async Task<long> ParallelExec()
    {
        await _queue.EnqueueManyAsync(_items);
        var db = _connection.GetDatabase();
        long done;
        while ((done = await db.ListLengthAsync(Ledger)) < Items)
        {
            await Task.Delay(1);
        }

        return done;
    }
}
