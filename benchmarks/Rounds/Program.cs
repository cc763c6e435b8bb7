using System.Diagnostics;
using System.Reflection;
using BenchmarkDotNet.Attributes;

// Runs the [Benchmark] methods of one BenchmarkDotNet class in rounds: every round runs each method once, in a new
// random order, so all methods meet the same moments of a loaded machine; reports per method the median time per
// operation and its spread, and the median over rounds of each method's time over the baseline's in the same round.
//   dotnet run -c Release --project benchmarks/Rounds -- SqliteCallersBenchmarks 15 [Callers=64] [Workload=Mixed]
var typeName = args.Length > 0 ? args[0] : throw new ArgumentException("usage: Rounds <BenchmarkClass> [rounds] [Param=Value ...]");
var rounds = args.Length > 1 ? int.Parse(args[1]) : 15;
var filters = args.Skip(2).Select(a => a.Split('=')).ToDictionary(p => p[0], p => p[1]);
var type = Assembly.Load("ParallelExec.Benchmarks").GetTypes().Single(t => t.Name == typeName);
var methods = type.GetMethods().Where(m => m.GetCustomAttribute<BenchmarkAttribute>() is not null).ToArray();
var baseline = methods.Single(m => m.GetCustomAttribute<BenchmarkAttribute>()!.Baseline);
var parameters = type.GetProperties().Where(p => p.GetCustomAttribute<ParamsAttribute>() is not null).ToArray();
var combinations = parameters.Aggregate(
    new[] { Array.Empty<(PropertyInfo, object?)>() }.AsEnumerable(),
    (acc, p) => acc.SelectMany(c => p.GetCustomAttribute<ParamsAttribute>()!.Values
        .Where(v => !filters.TryGetValue(p.Name, out var f) || f == v?.ToString())
        .Select(v => c.Append((p, v)).ToArray())));
var random = new Random(1);

foreach (var combination in combinations)
{
    var instance = Activator.CreateInstance(type)!;
    foreach (var (property, value) in combination)
    {
        property.SetValue(instance, value);
    }

    await Invoke(type.GetMethods().SingleOrDefault(m => m.GetCustomAttribute<GlobalSetupAttribute>() is not null), instance);
    var times = methods.ToDictionary(m => m, _ => new List<double>());
    for (var round = 0; round <= rounds; round++)
    {
        foreach (var method in methods.OrderBy(_ => random.Next()))
        {
            var perInvoke = method.GetCustomAttribute<BenchmarkAttribute>()!.OperationsPerInvoke;
            var watch = Stopwatch.StartNew();
            await Invoke(method, instance);
            var perOperation = watch.Elapsed.TotalMicroseconds / perInvoke;
            if (round > 0)
            {
                times[method].Add(perOperation); // round 0 warms up
            }
        }
    }

    await Invoke(type.GetMethods().SingleOrDefault(m => m.GetCustomAttribute<GlobalCleanupAttribute>() is not null), instance);
    Console.WriteLine($"## {typeName} {string.Join(", ", combination.Select(c => $"{c.Item1.Name}={c.Item2}"))}: {rounds} rounds, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
    Console.WriteLine("| Method | Median µs/op | Min | Max | Median ratio to baseline (per round) | Rounds faster than baseline |");
    Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
    foreach (var method in methods)
    {
        var t = times[method];
        var ratios = t.Zip(times[baseline], (a, b) => a / b).ToList();
        Console.WriteLine($"| {method.Name} | {Median(t):F2} | {t.Min():F2} | {t.Max():F2} | {Median(ratios):F2} | {ratios.Count(r => r < 1)}/{ratios.Count} |");
    }

    Console.WriteLine();
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
}

static async Task Invoke(MethodInfo? method, object instance)
{
    if (method?.Invoke(instance, null) is Task task)
    {
        await task;
    }
}
