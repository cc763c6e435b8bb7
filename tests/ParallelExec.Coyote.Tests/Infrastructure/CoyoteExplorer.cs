using System.Diagnostics;
using System.Globalization;
using Microsoft.Coyote;
using Microsoft.Coyote.Rewriting;
using Microsoft.Coyote.SystematicTesting;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests.Infrastructure;

/// <summary>What one exploration did: the figures RELIABILITY.md quotes.</summary>
internal sealed record ExplorationResult(string Name, uint Seed, uint Iterations, int Bugs, TimeSpan Elapsed, string Report, string Trace);

/// <summary>
/// Runs a scenario under Coyote's systematic testing engine: Coyote serializes every controlled task, lock and await of
/// the rewritten assemblies and picks, at each of them, which operation goes next, so every iteration is one
/// interleaving, chosen from a fixed seed (a failure in CI replays with the seed and the trace printed).
/// </summary>
internal static class CoyoteExplorer
{
    /// <summary>Overrides every test's iteration count (e.g. <c>PARALLELEXEC_COYOTE_ITERATIONS=5000</c> for a long hunt).</summary>
    private const string IterationsVariable = "PARALLELEXEC_COYOTE_ITERATIONS";

    /// <summary>Overrides every test's seed, to replay or to explore different schedules.</summary>
    private const string SeedVariable = "PARALLELEXEC_COYOTE_SEED";

    /// <summary>Explores <paramref name="scenario"/> and returns what Coyote found, without failing.</summary>
    public static ExplorationResult Explore(string name, Func<Task> scenario, uint iterations, uint seed, uint maxSteps = 4000)
    {
        EnsureRewritten();
        iterations = ReadOverride(IterationsVariable) ?? iterations;
        seed = ReadOverride(SeedVariable) ?? seed;
        var configuration = Configuration.Create()
            .WithTestingIterations(iterations)
            .WithRandomGeneratorSeed(seed)
            .WithMaxSchedulingSteps(maxSteps)
            .WithTelemetryEnabled(false)
            // A hang among controlled operations is reported at once; this bounds only the wait for progress in code
            // Coyote does not control, generously, so a loaded CI machine cannot turn slowness into a reported deadlock.
            .WithDeadlockTimeout(10_000)
            .WithConsoleLoggingEnabled(false);
        var stopwatch = Stopwatch.StartNew();
        using var engine = TestingEngine.Create(configuration, scenario);
        engine.Run();
        stopwatch.Stop();
        var report = engine.TestReport;
        var bugs = string.Join(Environment.NewLine, report.BugReports);
        if (report.UncontrolledInvocations.Count > 0)
        {
            bugs += Environment.NewLine + "Uncontrolled: " + string.Join(", ", report.UncontrolledInvocations);
        }

        return new ExplorationResult(name, seed, iterations, report.NumOfFoundBugs, stopwatch.Elapsed, bugs, report.NumOfFoundBugs > 0 ? engine.ReadableTrace : string.Empty);
    }

    /// <summary>Explores <paramref name="scenario"/> and fails the test, with the seed and the interleaving, on any bug.</summary>
    public static void AssertNoBug(ITestOutputHelper output, string name, Func<Task> scenario, uint iterations, uint seed, uint maxSteps = 4000)
    {
        var result = Explore(name, scenario, iterations, seed, maxSteps);
        output.WriteLine(Summary(result));
        output.WriteLine(result.Report);
        if (result.Bugs > 0)
        {
            Assert.Fail(
                $"{Summary(result)}{Environment.NewLine}Bug: {result.Report}{Environment.NewLine}" +
                $"Replay with {SeedVariable}={result.Seed}. If this appeared right after a change to the library and the report " +
                "mentions InvalidProgramException, or items that were never handled, check first for a Coyote rewriter limit " +
                "(RELIABILITY.md, 'Systematic concurrency testing'). Interleaving (Coyote's readable trace):" +
                $"{Environment.NewLine}{Tail(result.Trace)}");
        }
    }

    public static string Summary(ExplorationResult result) => string.Create(
        CultureInfo.InvariantCulture,
        $"COYOTE {result.Name}: seed={result.Seed} iterations={result.Iterations} bugs={result.Bugs} time={result.Elapsed.TotalSeconds:0.0}s");

    /// <summary>
    /// Without rewriting, Coyote controls nothing in the library: every test would pass while exploring nothing. Fail
    /// loudly instead (the build rewrites the output folder; see the project file).
    /// </summary>
    private static void EnsureRewritten()
    {
        foreach (var assembly in new[] { typeof(global::ParallelExec.Workers.WorkerPool).Assembly, typeof(CoyoteExplorer).Assembly })
        {
            Assert.True(
                RewritingEngine.IsAssemblyRewritten(assembly),
                $"{assembly.GetName().Name} is not rewritten by Coyote: build the project (its CoyoteRewriteAssemblies target runs 'coyote rewrite').");
        }
    }

    private static uint? ReadOverride(string variable) =>
        uint.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    // The readable trace of a long schedule runs to thousands of lines; its end shows the steps that led to the bug.
    private static string Tail(string trace)
    {
        const int MaxChars = 20_000;
        return trace.Length <= MaxChars ? trace : "..." + trace[^MaxChars..];
    }
}
