using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ParallelExec.Agents;
using ParallelExec.Tests.Infrastructure;
using Polly;
using Polly.Retry;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// Faults from outside, with real processes: an agent killed with SIGKILL in the middle of a request, and the host
/// itself killed with SIGKILL while its agents (and their children) run. Nothing may survive either.
/// </summary>
public sealed class AgentContainmentTests
{
    [Fact]
    public async Task AnAgentKilledMidRequestFailsTheRequestIsReplacedAndLeavesNoProcessBehind()
    {
        await using var pool = Exec.Agents(new ProcessAgentFactory(TestAgentHost.Options())).WithMaxAgents(2).Build();
        var inside = new TaskCompletionSource<(int Agent, int Grandchild)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = pool.ExecuteAsync(async (agent, ct) =>
        {
            var grandchild = int.Parse(await agent.SendAsync("child", ct), CultureInfo.InvariantCulture);
            var work = agent.SendAsync("work:600000", ct);
            inside.SetResult((agent.ProcessId, grandchild));
            return await work;
        }).AsTask();
        var (agentPid, grandchildPid) = await inside.Task.WithTimeout();
        Assert.True(TestAgentHost.IsAlive(grandchildPid));

        Kill(agentPid);

        // Without a resilience pipeline the documented end is the crash, with the exit the OS gave it.
        var crash = await Assert.ThrowsAsync<AgentCrashedException>(() => request).WithTimeout();
        Assert.Equal(137, crash.ExitCode);
        var replacement = int.Parse(await pool.RunAsync("pid").AsTask().WithTimeout(), CultureInfo.InvariantCulture);
        Assert.NotEqual(agentPid, replacement);
        var stats = pool.GetStatistics();
        Assert.Equal((1L, 1L, 1L), (stats.Crashes, stats.Ledger.Failed, stats.Ledger.Succeeded));

        // No orphan: the agent is reaped (its /proc entry is gone, not a zombie) and its child was killed with it.
        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([agentPid, grandchildPid]));
        Assert.True(await ReapedAsync(agentPid), $"agent {agentPid} was not reaped");
    }

    [Fact]
    public async Task WithARetryPipelineTheRequestOfAKilledAgentSucceedsOnAnotherAgent()
    {
        var pipeline = new ResiliencePipelineBuilder<string>()
            .AddRetry(new RetryStrategyOptions<string>
            {
                ShouldHandle = new PredicateBuilder<string>().Handle<AgentCrashedException>(),
                MaxRetryAttempts = 2,
                Delay = TimeSpan.Zero,
            })
            .Build();
        await using var pool = Exec.Agents(new ProcessAgentFactory(TestAgentHost.Options())).WithMaxAgents(2).Build();
        var inside = new TaskCompletionSource<(int Agent, int Grandchild)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = 0;
        var request = pool.ExecuteAsync(
            async (agent, ct) =>
            {
                if (Interlocked.Increment(ref attempts) > 1)
                {
                    return await agent.SendAsync("pid", ct);
                }

                var grandchild = int.Parse(await agent.SendAsync("child", ct), CultureInfo.InvariantCulture);
                var work = agent.SendAsync("work:600000", ct);
                inside.SetResult((agent.ProcessId, grandchild));
                return await work;
            },
            pipeline).AsTask();
        var (agentPid, grandchildPid) = await inside.Task.WithTimeout();

        Kill(agentPid);

        var servedBy = int.Parse(await request.WithTimeout(), CultureInfo.InvariantCulture);
        Assert.NotEqual(agentPid, servedBy);
        Assert.Equal(2, attempts);
        var stats = pool.GetStatistics();
        Assert.Equal((1L, 1L, 0L), (stats.Crashes, stats.Ledger.Succeeded, stats.Ledger.Failed));
        Assert.Empty(await TestAgentHost.StillAliveAfterAsync([agentPid, grandchildPid]));
    }

    [Fact]
    public async Task AHostKilledWithSigkillLeavesNoAgentNorGrandchildAlive()
    {
        var info = new ProcessStartInfo(TestAgentHost.DotnetHost)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(AgentHostLocator.DllPath);
        info.ArgumentList.Add(TestAgentHost.DotnetHost);
        info.ArgumentList.Add(TestAgentHost.DllPath);
        info.ArgumentList.Add("3");
        using var host = Process.Start(info)!;
        var survivors = Array.Empty<int>();
        var pids = Array.Empty<int>();
        try
        {
            var line = await host.StandardOutput.ReadLineAsync(CancellationToken.None).AsTask().WithTimeout(TimeSpan.FromSeconds(60));
            if (line is null)
            {
                Assert.Fail("the host exited early: " + await host.StandardError.ReadToEndAsync().WithTimeout());
            }

            using var report = JsonDocument.Parse(line!);
            var agents = report.RootElement.GetProperty("agents").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var grandchildren = report.RootElement.GetProperty("grandchildren").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            pids = [.. agents, .. grandchildren];
            Assert.Equal(3, agents.Distinct().Count());
            Assert.Equal(3, grandchildren.Distinct().Count());
            Assert.All(pids, pid => Assert.True(TestAgentHost.IsAlive(pid), $"{pid} was not running before the kill"));

            host.Kill(); // SIGKILL: nothing in the host runs again, no finalizer, no disposal.
            await host.WaitForExitAsync().WithTimeout();

            survivors = await TestAgentHost.StillAliveAfterAsync(pids, TimeSpan.FromSeconds(10));
            Assert.Empty(survivors);
        }
        finally
        {
            // A failed run must not leave its processes to the next tests.
            foreach (var pid in survivors)
            {
                Kill(pid);
            }

            if (!host.HasExited)
            {
                host.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Sends SIGKILL to a process from outside (on Unix <see cref="Process.Kill()"/> is SIGKILL).</summary>
    private static void Kill(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            process.Kill();
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Whether the process table no longer holds the pid at all (bounded poll: reaping is asynchronous).</summary>
    private static async Task<bool> ReapedAsync(int pid)
    {
        var path = "/proc/" + pid.ToString(CultureInfo.InvariantCulture);
        if (!OperatingSystem.IsLinux())
        {
            return !TestAgentHost.IsAlive(pid);
        }

        var watch = Stopwatch.StartNew();
        while (Directory.Exists(path))
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
