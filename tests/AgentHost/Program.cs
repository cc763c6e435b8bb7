using System.Globalization;
using System.Text.Json;
using ParallelExec;
using ParallelExec.Agents;

namespace AgentHost;

/// <summary>
/// A host for the tests that kill a host: starts an <see cref="AgentPool{TAgent}"/> of real TestAgent processes, has each
/// agent start a grandchild, writes one line <c>{"host":..,"agents":[..],"grandchildren":[..]}</c> to stdout, and then
/// waits to be killed.
/// </summary>
/// <remarks>Arguments: <c>DOTNET_HOST TESTAGENT_DLL AGENTS [--no-containment]</c>.</remarks>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length < 3)
        {
            await Console.Error.WriteLineAsync("usage: AgentHost DOTNET_HOST TESTAGENT_DLL AGENTS [--no-containment]");
            return 64;
        }

        var count = int.Parse(args[2], CultureInfo.InvariantCulture);
        var options = new ProcessAgentOptions { FileName = args[0], ContainProcessTree = !args.Contains("--no-containment") };
        options.Arguments.Add(args[1]);
        var pool = Exec.Agents(new ProcessAgentFactory(options)).WithMaxAgents(count).Build();

        // Every agent holds its request until all have started theirs, so the pool spreads them over `count` agents.
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0;
        var pairs = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => pool.ExecuteAsync(async (agent, ct) =>
        {
            var grandchild = int.Parse(await agent.SendAsync("child", ct), CultureInfo.InvariantCulture);
            if (Interlocked.Increment(ref started) == count)
            {
                all.TrySetResult();
            }

            await all.Task.WaitAsync(ct);
            return (Agent: agent.ProcessId, Grandchild: grandchild);
        }).AsTask()));

        var line = JsonSerializer.Serialize(new Dictionary<string, int[]>
        {
            ["host"] = [Environment.ProcessId],
            ["agents"] = pairs.Select(p => p.Agent).ToArray(),
            ["grandchildren"] = pairs.Select(p => p.Grandchild).ToArray(),
        });
        Console.Out.WriteLine(line);
        Console.Out.Flush();

        // Until killed: the test kills this process with SIGKILL, so nothing here ever runs again.
        await Task.Delay(Timeout.Infinite);
        return 0;
    }
}
