// WorkerPoolSample: what an agent orchestrator does with a worker pool.
//   dotnet run --project samples/WorkerPoolSample
using System.Diagnostics;
using ParallelExec;
using ParallelExec.Workers;

// Pretend "agent calls": each waits ~50 ms for a model or a tool, as real agent steps mostly wait on I/O.
static async ValueTask<string> AskAgentAsync(string task, CancellationToken cancellationToken)
{
    await Task.Delay(50, cancellationToken);
    return $"done: {task}";
}

var tasks = Enumerable.Range(1, 40).Select(i => $"task-{i:00}").ToArray();

// 1. The sequential way: one thing at a time.
var clock = Stopwatch.StartNew();
foreach (var task in tasks.Take(10))
{
    await AskAgentAsync(task, CancellationToken.None);
}

var sequentialPerItem = clock.Elapsed / 10;
Console.WriteLine($"sequential:        {sequentialPerItem.TotalMilliseconds * tasks.Length,7:F0} ms for {tasks.Length} tasks (estimated from 10)");

// 2. The one-line replacement: bounded concurrency, results in input order.
clock.Restart();
var answers = await Exec.ForEachAsync(tasks, maxDegreeOfParallelism: 8, AskAgentAsync);
Console.WriteLine($"Exec.ForEachAsync: {clock.ElapsedMilliseconds,7} ms for {answers.Length} tasks, first = \"{answers[0]}\"");

// 3. A long-lived pool: awaited work, fire-and-forget work, per-agent ordering, resizing, statistics.
var dropped = 0;
await using (var pool = Exec.WorkerPool()
    .WithMaxDegreeOfParallelism(4)
    .WithQueue(capacity: 64, QueueFullMode.Wait)
    .OnError(failure => Console.WriteLine($"background failure: {failure.Exception.Message}"))
    .OnDropped(_ => Interlocked.Increment(ref dropped))
    .WithName("agents")
    .Build())
{
    clock.Restart();

    // Awaited: the caller gets the result (or the exception).
    var answer = await pool.RunAsync(ct => AskAgentAsync("plan", ct));
    Console.WriteLine($"RunAsync:          {answer}");

    // Per-key ordering: each agent's memory writes happen one at a time, in order; different agents run in parallel.
    var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
    var writes = new List<Task>();
    foreach (var agent in new[] { "alice", "bob" })
    {
        for (var step = 1; step <= 3; step++)
        {
            var entry = $"{agent}#{step}";
            writes.Add(pool.RunAsync(agent, async ct =>
            {
                await Task.Delay(10, ct);
                log.Enqueue(entry);
            }).AsTask());
        }
    }

    await Task.WhenAll(writes);
    Console.WriteLine($"per-key order:     {string.Join(", ", log.Where(e => e.StartsWith("alice", StringComparison.Ordinal)))}");

    // Fire-and-forget: PostAsync waits only for room in the queue; failures go to OnError.
    await pool.PostAsync(_ => throw new InvalidOperationException("telemetry upload failed (expected in this sample)"));

    // Grow the pool while it runs, then process a sequence in completion order.
    pool.SetMaxDegreeOfParallelism(16);
    var completed = 0;
    await foreach (var result in pool.ProcessAsync(tasks, AskAgentAsync, ResultOrder.Completion))
    {
        completed++;
    }

    Console.WriteLine($"ProcessAsync:      {completed} results with 16 workers in {clock.ElapsedMilliseconds} ms (pool total)");

    var stats = pool.GetStatistics();
    Console.WriteLine($"statistics:        submitted {stats.Ledger.Submitted}, succeeded {stats.Ledger.Succeeded}, failed {stats.Ledger.Failed}, "
        + $"cancelled {stats.Ledger.Cancelled}, dropped {stats.Ledger.Dropped} (OnDropped saw {dropped}), peak queue {stats.PeakQueueLength}");
}

Console.WriteLine("pool disposed: queued work drained, workers stopped.");
