using Microsoft.Coyote.Specifications;
using ParallelExec.Coyote.Tests.Infrastructure;
using Xunit.Abstractions;

namespace ParallelExec.Coyote.Tests;

/// <summary>
/// Proves the exploration is real: a lost update that a plain test run almost never shows must be found. Without the
/// rewriting (or with a scheduler that does not interleave) this test fails, so a green run of the other tests means
/// Coyote really drove their schedules.
/// </summary>
public sealed class CanaryTests(ITestOutputHelper output)
{
    [Fact]
    public void A_non_atomic_read_modify_write_across_two_tasks_is_reported_as_a_bug()
    {
        var result = CoyoteExplorer.Explore("Canary.LostUpdate", LostUpdateAsync, iterations: 100, seed: 9001);
        output.WriteLine(CoyoteExplorer.Summary(result));
        output.WriteLine(result.Report);
        Assert.True(result.Bugs > 0, "Coyote did not find the lost update: the assemblies are not rewritten or the scheduler is not in control.");
        Assert.Contains("lost update", result.Report, StringComparison.Ordinal);
    }

    private static async Task LostUpdateAsync()
    {
        var counter = new Counter();
        var first = Task.Run(counter.IncrementAsync);
        var second = Task.Run(counter.IncrementAsync);
        await Task.WhenAll(new[] { first, second });
        Specification.Assert(counter.Value == 2, "lost update: counter is {0}, expected 2", counter.Value);
    }

    private sealed class Counter
    {
        public int Value { get; private set; }

        public async Task IncrementAsync()
        {
            var read = Value;
            await Task.Yield();
            Value = read + 1;
        }
    }
}
