using System.Globalization;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// A process agent that misbehaves, for real: an endless output line fails the agent with a protocol error while the
/// host's memory stays bounded; a clean environment keeps the host's secrets from the agent.
/// </summary>
public sealed class ProcessAgentHostileInputTests
{
    [Fact]
    public async Task AnOutputLineLongerThanTheLimitFailsTheRequestWithAProtocolErrorAndMemoryStaysBounded()
    {
        var options = TestAgentHost.Options();
        options.MaxLineLength = 64 * 1024;
        await using var pool = Exec.Agents(new ProcessAgentFactory(options)).WithMaxAgents(1).Build();
        var first = int.Parse(await pool.RunAsync("pid").AsTask().WithTimeout(), CultureInfo.InvariantCulture);

        // 4 GiB in one line: a reader that buffered it would need twice that in memory (and more time than the bound).
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var error = await Assert.ThrowsAsync<AgentProtocolException>(() => pool.RunAsync("long-line:4294967296").AsTask()).WithTimeout();
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        Assert.Contains("MaxLineLength", error.Message, StringComparison.Ordinal);
        Assert.Contains("65536", error.Message, StringComparison.Ordinal);
        Assert.True(allocated < 512L * 1024 * 1024, $"{allocated:N0} bytes allocated while the line was refused");

        // The agent that wrote it was stopped and replaced.
        var second = int.Parse(await pool.RunAsync("pid").AsTask().WithTimeout(), CultureInfo.InvariantCulture);
        Assert.NotEqual(first, second);
        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([first]));
        var stats = pool.GetStatistics();
        Assert.Equal((1L, 2L, 1L), (stats.Ledger.Failed, stats.Ledger.Succeeded, stats.Crashes));
    }

    [Fact]
    public async Task LinesWithinTheLimitStillArriveWhole()
    {
        var options = TestAgentHost.Options();
        options.MaxLineLength = 1024 * 1024;
        await using var agent = await ProcessAgent.StartAsync(options).WithTimeout();
        var text = new string('y', 300_000);

        Assert.Equal(text, await agent.SendAsync("echo:" + text).AsTask().WithTimeout());
        Assert.True(agent.IsHealthy);
    }

    [Fact]
    public async Task ACleanEnvironmentPassesOnlyTheAllowListAndTheExplicitVariables()
    {
        const string Secret = "PARALLELEXEC_TEST_SECRET_9F2C";
        Environment.SetEnvironmentVariable(Secret, "s3cret");
        try
        {
            var inherited = TestAgentHost.Options();
            await using (var agent = await ProcessAgent.StartAsync(inherited).WithTimeout())
            {
                Assert.Equal("s3cret", await agent.SendAsync("env:" + Secret).AsTask().WithTimeout());
            }

            var clean = TestAgentHost.Options();
            clean.InheritEnvironment = false;
            clean.InheritedEnvironmentVariables.Add("PATH");
            clean.InheritedEnvironmentVariables.Add("NOT_SET_ANYWHERE_4D1A");
            clean.Environment["AGENT_ONLY"] = "given";
            await using (var agent = await ProcessAgent.StartAsync(clean).WithTimeout())
            {
                Assert.Equal("<unset>", await agent.SendAsync("env:" + Secret).AsTask().WithTimeout());
                Assert.Equal("<unset>", await agent.SendAsync("env:NOT_SET_ANYWHERE_4D1A").AsTask().WithTimeout());
                Assert.Equal(Environment.GetEnvironmentVariable("PATH"), await agent.SendAsync("env:PATH").AsTask().WithTimeout());
                Assert.Equal("given", await agent.SendAsync("env:AGENT_ONLY").AsTask().WithTimeout());
                if (Environment.GetEnvironmentVariable("HOME") is not null)
                {
                    Assert.Equal("<unset>", await agent.SendAsync("env:HOME").AsTask().WithTimeout());
                }
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(Secret, null);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(int.MaxValue)]
    public void ALineLimitThatIsNotPositiveOrWouldExhaustMemoryIsRejected(int maxLineLength)
    {
        var options = TestAgentHost.Options();
        options.MaxLineLength = maxLineLength;

        var error = Assert.Throws<ArgumentException>(() => new ProcessAgentFactory(options));
        Assert.Contains("MaxLineLength", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEmptyNameInTheAllowListIsRejected()
    {
        var options = TestAgentHost.Options();
        options.InheritEnvironment = false;
        options.InheritedEnvironmentVariables.Add(string.Empty);

        var error = Assert.Throws<ArgumentException>(() => new ProcessAgentFactory(options));
        Assert.Contains("InheritedEnvironmentVariables", error.Message, StringComparison.Ordinal);
    }
}
