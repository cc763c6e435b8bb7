using System.Globalization;
using ParallelExec.Benchmarks.Chart;
using ScottPlot;

// Draws, for every ParallelExec method of every committed benchmark report, its speed-up over the Sequential baseline
// and its ratio to the fastest peer of the same case, on a log scale, with the spread of the runs.
//   dotnet run -c Release --project benchmarks/Chart [-- --results <dir>] [--out <png>]
var root = FindRepositoryRoot();
var resultsDirectory = Option(args, "--results") ?? Path.Combine(root, "benchmarks", "results");
var output = Option(args, "--out") ?? Path.Combine(root, "docs", "benchmarks.png");

var comparisons = Directory.GetFiles(resultsDirectory, "*Benchmarks.md")
    .Order(StringComparer.Ordinal)
    .SelectMany(path => Comparison.From(Path.GetFileNameWithoutExtension(path), ResultsReport.Read(path)))
    .ToList();
if (comparisons.Count == 0)
{
    Console.Error.WriteLine($"No BenchmarkDotNet tables with a ParallelExec method and a Sequential baseline or a peer under {resultsDirectory}.");
    return 1;
}

foreach (var comparison in comparisons)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{comparison.Label,-60} vs sequential {Describe(comparison.SpeedUps),-22} vs best peer {Describe(comparison.VersusBestPeer)} {comparison.BestPeer}"));
}

ChartDrawing.Draw(comparisons, output);
Console.WriteLine($"{comparisons.Count} comparisons drawn to {output}");
return 0;

static string Describe(double[] ratios) => ratios.Length switch
{
    0 => "-",
    1 => string.Create(CultureInfo.InvariantCulture, $"{ratios[0]:0.##}x"),
    _ => string.Create(CultureInfo.InvariantCulture, $"{Median(ratios):0.##}x ({ratios.Min():0.##}-{ratios.Max():0.##}, {ratios.Length} runs)"),
};

static double Median(double[] values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static string? Option(string[] args, string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

static string FindRepositoryRoot()
{
    for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "ParallelExec.sln")))
        {
            return directory.FullName;
        }
    }

    return Environment.CurrentDirectory;
}
