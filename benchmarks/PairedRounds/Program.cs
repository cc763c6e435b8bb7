extern alias B;

using System.Diagnostics;
using System.Threading.Channels;
using System.Threading.Tasks.Dataflow;
using PoolA = ParallelExec.Workers.WorkerPool;
using PoolAOptions = ParallelExec.Workers.WorkerPoolOptions;
using PoolB = B::ParallelExec.Workers.WorkerPool;
using PoolBOptions = B::ParallelExec.Workers.WorkerPoolOptions;

// Paired rounds: the bodies of WorkerPoolOverheadBenchmarks (100,000 trivial items, 2 workers, capacity 1024) for two
// builds of the library, A and B, in one process. Every round runs each body once, in a new random order, so both builds
// meet the same moment of a noisy machine; the report gives each body's distribution and, per round, B's time over A's.
// Usage: dotnet run -c Release -p:PoolA=<checkout> -p:PoolB=<checkout> -- [rounds] [Body,Body,...]
const int Items = 100_000;
const int Workers = 2;
const int Capacity = 1024;
var sink = 0;
Func<CancellationToken, ValueTask> work = _ =>
{
    Interlocked.Increment(ref sink);
    return ValueTask.CompletedTask;
};
Func<CancellationToken, ValueTask<int>> workWithResult = _ => ValueTask.FromResult(Interlocked.Increment(ref sink));

var bodies = new (string Name, Func<Task> Run)[]
{
    ("Channel", async () =>
    {
        var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(Capacity) { SingleWriter = true });
        var consumers = Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            while (await channel.Reader.WaitToReadAsync())
            {
                while (channel.Reader.TryRead(out _))
                {
                    Interlocked.Increment(ref sink);
                }
            }
        })).ToArray();
        for (var i = 0; i < Items; i++)
        {
            await channel.Writer.WriteAsync(i);
        }

        channel.Writer.Complete();
        await Task.WhenAll(consumers);
    }),
    ("ActionBlock", async () =>
    {
        var block = new ActionBlock<int>(_ => Interlocked.Increment(ref sink), new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Workers, BoundedCapacity = Capacity });
        for (var i = 0; i < Items; i++)
        {
            await block.SendAsync(i);
        }

        block.Complete();
        await block.Completion;
    }),
    ("ActionBlockWithResults", async () =>
    {
        var block = new ActionBlock<TaskCompletionSource<int>>(r => r.SetResult(Interlocked.Increment(ref sink)), new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Workers, BoundedCapacity = Capacity });
        var pending = new Task<int>[Capacity];
        for (var i = 0; i < Items; i++)
        {
            if (i >= Capacity)
            {
                await pending[i % Capacity];
            }

            var result = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            await block.SendAsync(result);
            pending[i % Capacity] = result.Task;
        }

        await Task.WhenAll(pending);
        block.Complete();
        await block.Completion;
    }),
    ("PostA", () => WithPoolA(pool => PostEach(() => pool.PostAsync(work)))),
    ("PostB", () => WithPoolB(pool => PostEach(() => pool.PostAsync(work)))),
    ("RunA", () => WithPoolA(pool => AwaitInOrder(() => pool.RunAsync(workWithResult)))),
    ("RunB", () => WithPoolB(pool => AwaitInOrder(() => pool.RunAsync(workWithResult)))),
    ("Run16A", () => WithPoolA(pool => SixteenCallers(() => pool.RunAsync(workWithResult)))),
    ("Run16B", () => WithPoolB(pool => SixteenCallers(() => pool.RunAsync(workWithResult)))),
};

var rounds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 200;
var chosen = args.Length > 1 ? args[1].Split(',') : null;
var selected = bodies.Where(b => chosen is null || chosen.Contains(b.Name)).ToArray();
var times = selected.ToDictionary(b => b.Name, _ => new List<double>());

for (var warmup = 0; warmup < 5; warmup++)
{
    foreach (var body in selected)
    {
        await body.Run();
    }
}

var random = new Random(1);
for (var round = 0; round < rounds; round++)
{
    foreach (var body in selected.OrderBy(_ => random.Next()))
    {
        var stopwatch = Stopwatch.StartNew();
        await body.Run();
        times[body.Name].Add(stopwatch.Elapsed.TotalNanoseconds / Items);
    }
}

foreach (var body in selected)
{
    var sorted = times[body.Name].Order().ToList();
    Console.WriteLine($"{body.Name,-24} min {sorted[0],7:F1}  p25 {sorted[sorted.Count / 4],7:F1}  median {sorted[sorted.Count / 2],7:F1} ns/item");
}

Report("RunA", "RunB");
Report("Run16A", "Run16B");
Report("PostA", "PostB");
Report("ActionBlock", "RunA");
Report("ActionBlock", "RunB");
Report("ActionBlockWithResults", "RunA");
Report("ActionBlockWithResults", "RunB");
Report("Channel", "PostA");
Report("Channel", "PostB");

void Report(string baseline, string measured)
{
    if (!times.TryGetValue(baseline, out var baselineTimes) || !times.TryGetValue(measured, out var measuredTimes))
    {
        return;
    }

    var ratios = baselineTimes.Zip(measuredTimes, (b, m) => m / b).Order().ToList();
    Console.WriteLine(
        $"{measured}/{baseline} per round: p25 {ratios[ratios.Count / 4]:F2}  median {ratios[ratios.Count / 2]:F2}  " +
        $"p75 {ratios[3 * ratios.Count / 4]:F2}; {measured} faster in {ratios.Count(r => r < 1)} of {ratios.Count} rounds");
}

// The same bodies for either build: the two WorkerPool types are unrelated, so each body takes the submission as a delegate.
async Task WithPoolA(Func<PoolA, Task> body)
{
    var pool = new PoolA(WithWorkers(new PoolAOptions { QueueCapacity = Capacity }));
    await body(pool);
    await pool.DisposeAsync();
}

// A build from before the shared vocabulary (issue 17) names the bound WorkerCount, a later one MaxDegreeOfParallelism:
// either can be build A or B, so the bound is set by whichever name the options type has.
T WithWorkers<T>(T options)
    where T : class
{
    var property = typeof(T).GetProperty("MaxDegreeOfParallelism") ?? typeof(T).GetProperty("WorkerCount");
    property!.SetValue(options, Workers);
    return options;
}

async Task WithPoolB(Func<PoolB, Task> body)
{
    var pool = new PoolB(WithWorkers(new PoolBOptions { QueueCapacity = Capacity }));
    await body(pool);
    await pool.DisposeAsync();
}

static async Task PostEach<TResult>(Func<ValueTask<TResult>> post)
{
    for (var i = 0; i < Items; i++)
    {
        await post();
    }
}

// One caller submits every item and awaits the results in order, up to Capacity pending (as ParallelExec_RunAsync).
static async Task AwaitInOrder(Func<ValueTask<int>> run)
{
    var pending = new ValueTask<int>[Capacity];
    for (var i = 0; i < Items; i++)
    {
        if (i >= Capacity)
        {
            await pending[i % Capacity];
        }

        pending[i % Capacity] = run();
    }

    for (var i = Items - Capacity; i < Items; i++)
    {
        await pending[i % Capacity];
    }
}

// Sixteen callers, each awaiting one item at a time (as ParallelExec_RunAsync16Callers).
static Task SixteenCallers(Func<ValueTask<int>> run) =>
    Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
    {
        for (var i = 0; i < Items / 16; i++)
        {
            await run();
        }
    })));
