using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using ParallelExec.Agents;
using ParallelExec.Testing;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// Builds the options that run the TestAgent program (found by <see cref="TestAgentLocator"/>) as <c>dotnet TestAgent.dll</c>
/// with the dotnet host running the tests, and checks on the processes it starts.
/// </summary>
internal static class TestAgentHost
{
    public static string DllPath => TestAgentLocator.DllPath;

    /// <summary>The dotnet host: the one the SDK named, else the one running this process, else the PATH's.</summary>
    public static string DotnetHost => TestAgentLocator.DotnetHost;

    public static ProcessAgentOptions Options(params string[] arguments)
    {
        var options = new ProcessAgentOptions { FileName = DotnetHost, StartupTimeout = TimeSpan.FromSeconds(30) };
        options.Arguments.Add(DllPath);
        foreach (var argument in arguments)
        {
            options.Arguments.Add(argument);
        }

        return options;
    }

    public static (int Pid, DateTimeOffset StartedAt, DateTimeOffset ReadyAt) ParseReady(string readyLine)
    {
        using var document = JsonDocument.Parse(readyLine);
        var root = document.RootElement;
        return (
            root.GetProperty("pid").GetInt32(),
            root.GetProperty("startedAt").GetDateTimeOffset(),
            root.GetProperty("readyAt").GetDateTimeOffset());
    }

    /// <summary>Whether a process with this id is alive (a zombie awaiting its reaper counts as gone).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            if (process.HasExited)
            {
                return false;
            }
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        var stat = $"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat";
        try
        {
            if (File.Exists(stat))
            {
                var text = File.ReadAllText(stat);
                var state = text[(text.LastIndexOf(')') + 2)..].Split(' ')[0];
                return state != "Z" && state != "X";
            }
        }
        catch (IOException)
        {
            return false;
        }

        return true;
    }

    /// <summary>
    /// Waits (bounded) until none of the processes is alive. The OS reaps killed processes asynchronously, so a short
    /// poll is needed; the bound only catches a leak.
    /// </summary>
    public static async Task<int[]> StillAliveAfterAsync(IEnumerable<int> pids, TimeSpan? bound = null)
    {
        var deadline = Stopwatch.StartNew();
        var remaining = pids.ToArray();
        while (true)
        {
            remaining = remaining.Where(IsAlive).ToArray();
            if (remaining.Length == 0 || deadline.Elapsed > (bound ?? TimeSpan.FromSeconds(10)))
            {
                return remaining;
            }

            await Task.Delay(50);
        }
    }
}
