using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Tests.Agents;

/// <summary>Real TestAgent processes: the protocol, failures and process-tree clean-up of <see cref="ProcessAgent"/>.</summary>
public sealed class ProcessAgentTests
{
    [Fact]
    public async Task Echoes_AndReportsItsPidReadyLineAndStandardError()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options(), new AgentSpec { Name = "echo-1" }).WithTimeout();

        Assert.Equal("echo-1", agent.Id);
        Assert.True(agent.IsHealthy);
        Assert.Equal("hello", await agent.SendAsync("echo:hello").WithTimeout());
        Assert.Equal(agent.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), await agent.SendAsync("pid").WithTimeout());
        Assert.Equal(agent.ProcessId, TestAgentHost.ParseReady(agent.ReadyLine).Pid);
        Assert.Equal("ok", await agent.SendAsync("stderr:diagnostic line").WithTimeout());
        Assert.Contains($"TestAgent {agent.ProcessId} starting", agent.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SeveralRequestsInFlight_AreMatchedByIdNotByOrder()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();

        // The first request is answered only after the third has reached the agent: replies come back out of order
        // whatever the machine's load (a timed "slow" request raced the fast one on a busy machine).
        var held = agent.SendAsync("hold:first").AsTask();
        var fast = agent.SendAsync("echo:fast").AsTask();

        Assert.Equal("fast", await fast.WithTimeout());
        Assert.False(held.IsCompleted);
        Assert.Equal("ok", await agent.SendAsync("release:first").WithTimeout());
        Assert.Equal("released first", await held.WithTimeout());
    }

    [Fact]
    public async Task MissingExecutablePath_GivesAClearSpawnError()
    {
        var options = new ProcessAgentOptions { FileName = Path.Combine(Path.GetTempPath(), "no-such-dir", "no-such-agent") };

        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => ProcessAgent.StartAsync(options)).WithTimeout();

        Assert.Contains("does not exist", error.Message, StringComparison.Ordinal);
        Assert.Contains(options.FileName, error.Message, StringComparison.Ordinal);
        Assert.IsType<FileNotFoundException>(error.InnerException);
    }

    [Fact]
    public async Task MissingExecutableName_GivesAClearSpawnError()
    {
        var options = new ProcessAgentOptions { FileName = "parallelexec-no-such-agent-program" };

        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => ProcessAgent.StartAsync(options)).WithTimeout();

        Assert.Contains("'parallelexec-no-such-agent-program' was not found", error.Message, StringComparison.Ordinal);
        Assert.Contains("PATH", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GarbageOnStdout_FailsTheRequestInFlight_AndTheAgentGoesOn()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();

        var error = await Assert.ThrowsAsync<AgentProtocolException>(() => agent.SendAsync("garbage").AsTask()).WithTimeout();

        Assert.Contains("not JSON", error.Message, StringComparison.Ordinal);
        Assert.True(agent.IsHealthy);
        Assert.Equal("still here", await agent.SendAsync("echo:still here").WithTimeout());
    }

    [Fact]
    public async Task CrashMidRequest_FailsTheRequestWithExitCodeAndStandardError()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();

        var error = await Assert.ThrowsAsync<AgentCrashedException>(() => agent.SendAsync("crash-after:100").AsTask()).WithTimeout();

        Assert.Equal(3, error.ExitCode);
        Assert.Equal(agent.Id, error.AgentId);
        Assert.Contains("exited with code 3", error.Message, StringComparison.Ordinal);
        Assert.Contains("crashing on demand", error.Message, StringComparison.Ordinal);
        Assert.False(agent.IsHealthy);
        await Assert.ThrowsAsync<AgentCrashedException>(() => agent.SendAsync("echo:x").AsTask()).WithTimeout();
    }

    [Fact]
    public async Task ExitWithoutReply_FailsTheRequest()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();

        var error = await Assert.ThrowsAsync<AgentCrashedException>(() => agent.SendAsync("exit").AsTask()).WithTimeout();

        Assert.Equal(0, error.ExitCode);
        Assert.False(agent.IsHealthy);
    }

    [Fact]
    public async Task ErrorReply_FailsOnlyThatRequest()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();

        var error = await Assert.ThrowsAsync<AgentException>(() => agent.SendAsync("fail:bad input").AsTask()).WithTimeout();

        Assert.Contains("bad input", error.Message, StringComparison.Ordinal);
        Assert.True(agent.IsHealthy);
        Assert.Equal("x", await agent.SendAsync("echo:x").WithTimeout());
    }

    [Fact]
    public async Task ExitBeforeReady_GivesASpawnErrorWithExitCode()
    {
        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => ProcessAgent.StartAsync(TestAgentHost.Options("--fail-start"))).WithTimeout();

        Assert.Contains("exited with code 2 before it reported ready", error.Message, StringComparison.Ordinal);
        Assert.Contains("failing its start-up on demand", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SlowStartup_BeyondTheTimeout_IsKilledAndReported()
    {
        var options = TestAgentHost.Options("--startup-ms", "60000");
        options.StartupTimeout = TimeSpan.FromMilliseconds(300);

        var error = await Assert.ThrowsAsync<AgentSpawnException>(() => ProcessAgent.StartAsync(options)).WithTimeout();

        Assert.Contains("did not report ready within", error.Message, StringComparison.Ordinal);
        var pid = int.Parse(error.Message.Split("(pid ")[1].Split(')')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([pid]).WithTimeout());
    }

    [Fact]
    public async Task LinesBeforeReady_AreIgnored_AndContextReachesTheProcess()
    {
        await using var agent = await ProcessAgent.StartAsync(
            TestAgentHost.Options("--banner"),
            new AgentSpec { Name = "ctx", SharedContext = "model=tiny" }).WithTimeout();

        Assert.Equal("model=tiny", await agent.SendAsync("context").WithTimeout());
    }

    [Fact]
    public async Task CancellingARequest_CancelsOnlyThatRequest()
    {
        await using var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();
        using var cts = new CancellationTokenSource();

        var slow = agent.SendAsync("work:5000", cts.Token).AsTask();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow).WithTimeout();
        Assert.Equal("y", await agent.SendAsync("echo:y").WithTimeout());
    }

    [Fact]
    public async Task Dispose_KillsTheWholeProcessTree_AndIsIdempotent()
    {
        var agent = await ProcessAgent.StartAsync(TestAgentHost.Options()).WithTimeout();
        var child = int.Parse(await agent.SendAsync("child").WithTimeout(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(TestAgentHost.IsAlive(child));
        var inFlight = agent.SendAsync("work:10000").AsTask();

        await agent.DisposeAsync().AsTask().WithTimeout();
        await agent.DisposeAsync().AsTask().WithTimeout();

        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([agent.ProcessId, child]).WithTimeout());
        await Assert.ThrowsAsync<ObjectDisposedException>(() => inFlight).WithTimeout();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => agent.SendAsync("echo:x").AsTask()).WithTimeout();
        Assert.False(agent.IsHealthy);
    }

    [Fact]
    public async Task InvalidOptions_AreListedInOneException()
    {
        var options = new ProcessAgentOptions { FileName = " ", StartupTimeout = TimeSpan.Zero, MaxStandardErrorLength = -1 };

        var error = await Assert.ThrowsAsync<ArgumentException>(() => ProcessAgent.StartAsync(options));

        Assert.Equal(
            "Invalid ProcessAgentOptions: FileName = \" \": must name an executable; StartupTimeout = 00:00:00: must be greater than zero or Timeout.InfiniteTimeSpan; MaxStandardErrorLength = -1: must be between 0 and 1 GiB (1073741824). (Parameter 'FileName')",
            error.Message);
    }
}
