using System.Diagnostics;
using System.Text.Json;

namespace ParallelExec.Analyzers.Tests.Report;

/// <summary>
/// tools/ParallelExec.AnalyzerReport, run as a process over a project written to a temporary folder: the awaits it
/// counts, the share in sequential patterns, the findings per kind, the SARIF log, and the baseline gate.
/// </summary>
public sealed class AnalyzerReportToolTests : IDisposable
{
    // Five awaits: two independent ones (PEX001), a dependent pair (silent), one in a loop over independent items (PEX002).
    private const string Code = """
        namespace Sample;

        public sealed class Service { public Task<int> GetAsync(int x) => Task.FromResult(x); }

        public static class Flows
        {
            public static async Task<int> BothAsync(Service a, Service b)
            {
                var x = await a.GetAsync(1);
                var y = await b.GetAsync(2);
                return x + y;
            }

            public static async Task<int> ChainAsync(Service a, Service b)
            {
                var x = await a.GetAsync(1);
                return await b.GetAsync(x);
            }

            public static async Task EachAsync(Service a, IEnumerable<int> items)
            {
                foreach (var item in items)
                {
                    await a.GetAsync(item);
                }
            }
        }
        """;

    private readonly string _folder = Directory.CreateTempSubdirectory("pex-report-").FullName;

    public AnalyzerReportToolTests()
    {
        File.WriteAllText(Path.Combine(_folder, "Sample.csproj"), """
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup><TargetFramework>net10.0</TargetFramework><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(_folder, "Flows.cs"), Code);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task The_Markdown_report_counts_the_awaits_and_the_share_in_sequential_patterns()
    {
        var (exitCode, output, error) = await RunAsync(_folder, "--format", "md");

        Assert.True(exitCode == 0, error);
        Assert.Contains("1 project(s) of " + _folder + ": 5 awaits, 3 of them (60.0%) in sequential patterns", output, StringComparison.Ordinal);
        Assert.Contains("| Sample | 5 | 3 | 60.0% | 0 | PEX001:1 PEX002:1 |", output, StringComparison.Ordinal);
        Assert.Contains("| PEX001 | Independent awaits run in sequence | 1 | 2 | 40.0% |", output, StringComparison.Ordinal);
        Assert.Contains("| 1 | PEX001 | Flows.cs:9 | 2 |", output, StringComparison.Ordinal);
        Assert.Contains("| 2 | PEX002 | Flows.cs:22 | 1 |", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_SARIF_log_has_a_result_per_finding_and_the_counts_in_its_properties()
    {
        var sarif = Path.Combine(_folder, "report.sarif");
        var (exitCode, _, error) = await RunAsync(_folder, "--format", "sarif", "--output", sarif);

        Assert.True(exitCode == 0, error);
        using var log = JsonDocument.Parse(await File.ReadAllTextAsync(sarif));
        var run = log.RootElement.GetProperty("runs")[0];
        Assert.Equal("2.1.0", log.RootElement.GetProperty("version").GetString());
        Assert.Equal(["PEX001", "PEX002"], run.GetProperty("results").EnumerateArray().Select(result => result.GetProperty("ruleId").GetString()));
        Assert.Equal(5, run.GetProperty("properties").GetProperty("awaits").GetInt32());
        Assert.Equal(3, run.GetProperty("properties").GetProperty("sequentialAwaits").GetInt32());
        Assert.Equal(4, run.GetProperty("tool").GetProperty("driver").GetProperty("rules").GetArrayLength());
    }

    [Fact]
    public async Task A_finding_missing_from_the_baseline_fails_the_run_and_is_named()
    {
        var baseline = Path.Combine(_folder, "baseline.md");
        await File.WriteAllTextAsync(baseline, "| 1 | PEX001 | Flows.cs:3 | 2 | an older line number still matches |\n");

        var (exitCode, _, error) = await RunAsync(_folder, "--baseline", baseline);

        Assert.Equal(1, exitCode);
        Assert.Contains("new finding, not in " + baseline + ": PEX002 Flows.cs:22", error, StringComparison.Ordinal);
        Assert.DoesNotContain("PEX001 Flows.cs", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_format_is_a_usage_error()
    {
        var (exitCode, _, error) = await RunAsync(_folder, "--format", "html");

        Assert.Equal(2, exitCode);
        Assert.Contains("Unknown --format 'html'", error, StringComparison.Ordinal);
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ToolPath());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output, await error);
    }

    // The tool's build of this test's configuration (bin/Release or bin/Debug), found from the repository root.
    private static string ToolPath()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tools", "ParallelExec.AnalyzerReport", "bin", configuration, "net10.0", "ParallelExec.AnalyzerReport.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"ParallelExec.AnalyzerReport.dll ({configuration}) not found above {AppContext.BaseDirectory}: build the tests, which build the tool.");
    }
}
