using System.Reflection;
using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>
/// Finds the TestAgent program (built with the benchmarks through a ProjectReference that does not reference its
/// assembly) and builds the options that run it as <c>dotnet TestAgent.dll</c>.
/// </summary>
internal static class AgentBenchmarkHost
{
    private static readonly Lazy<string> Dll = new(FindDll);

    public static ProcessAgentOptions Options(int startupMs)
    {
        var options = new ProcessAgentOptions { FileName = DotnetHost() };
        options.Arguments.Add(Dll.Value);
        options.Arguments.Add("--startup-ms");
        options.Arguments.Add(startupMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }

    private static string DotnetHost()
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

    private static string FindDll()
    {
        if (Environment.GetEnvironmentVariable("PARALLELEXEC_TESTAGENT_DLL") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        var configuration = typeof(AgentBenchmarkHost).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var bin = Path.Combine(directory.FullName, "tests", "TestAgent", "bin");
                if (!Directory.Exists(bin))
                {
                    continue;
                }

                var found = Directory.GetFiles(bin, "TestAgent.dll", SearchOption.AllDirectories)
                    .Where(path => File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
                    .OrderByDescending(path => path.Contains(Path.DirectorySeparatorChar + configuration + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    .ThenByDescending(File.GetLastWriteTimeUtc)
                    .FirstOrDefault();
                if (found is not null)
                {
                    return found;
                }
            }
        }

        throw new FileNotFoundException("TestAgent.dll was not found under tests/TestAgent/bin; build the benchmarks (they build it) or set PARALLELEXEC_TESTAGENT_DLL.");
    }
}
