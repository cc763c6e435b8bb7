using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using ParallelExec.Agents;

namespace ParallelExec.Tests.Agents;

/// <summary>
/// Finds the TestAgent program (built with the tests through a ProjectReference that does not reference its assembly)
/// and builds the options that run it as <c>dotnet TestAgent.dll</c> with the dotnet host running the tests.
/// </summary>
internal static class TestAgentHost
{
    private static readonly Lazy<string> Dll = new(FindDll);

    public static string DllPath => Dll.Value;

    /// <summary>The dotnet host: the one the SDK named, else the one running this process, else the PATH's.</summary>
    public static string DotnetHost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
            {
                return host;
            }

            var current = Environment.ProcessPath;
            return current is not null && Path.GetFileNameWithoutExtension(current).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
                ? current
                : "dotnet";
        }
    }

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

    private static string FindDll()
    {
        if (Environment.GetEnvironmentVariable("PARALLELEXEC_TESTAGENT_DLL") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        var configuration = typeof(TestAgentHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var bin = Path.Combine(directory.FullName, "tests", "TestAgent", "bin");
                if (!Directory.Exists(bin))
                {
                    continue;
                }

                var candidates = Directory.GetFiles(bin, "TestAgent.dll", SearchOption.AllDirectories)
                    .Where(path => File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
                    .OrderByDescending(path => path.Contains(Path.DirectorySeparatorChar + configuration + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    .ThenByDescending(File.GetLastWriteTimeUtc)
                    .ToArray();
                if (candidates.Length > 0)
                {
                    return candidates[0];
                }
            }
        }

        throw new FileNotFoundException(
            "TestAgent.dll was not found under tests/TestAgent/bin above " + AppContext.BaseDirectory +
            "; build tests/TestAgent (the test project builds it) or set PARALLELEXEC_TESTAGENT_DLL.");
    }
}
