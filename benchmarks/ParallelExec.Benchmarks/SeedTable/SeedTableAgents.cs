using ParallelExec.Agents;

namespace ParallelExec.Benchmarks.SeedTable;

/// <summary>
/// Finds the real agent program the seed-table benchmarks spawn: tests/TestAgent, built by the project reference. It is
/// looked for beside the benchmark (the build copies it there) and, because BenchmarkDotNet runs benchmarks from a
/// generated project elsewhere, in the repository's own build output.
/// </summary>
internal static class SeedTableAgents
{
    public static ProcessAgentOptions Options(int startupMs)
    {
        var options = new ProcessAgentOptions { FileName = DotnetHost(), StartupTimeout = TimeSpan.FromSeconds(60) };
        options.Arguments.Add(FindTestAgent());
        options.Arguments.Add("--startup-ms");
        options.Arguments.Add(startupMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }

    private static string DotnetHost()
    {
        // Benchmarks run under the dotnet host or an app host next to it; DOTNET_HOST_PATH is set by the SDK.
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    private static string FindTestAgent()
    {
        static bool Runnable(string dll) => File.Exists(dll) && File.Exists(Path.ChangeExtension(dll, ".runtimeconfig.json"));

        var beside = Path.Combine(AppContext.BaseDirectory, "TestAgent.dll");
        if (Runnable(beside))
        {
            return beside;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ParallelExec.sln")))
            {
                foreach (var configuration in new[] { "Release", "Debug" })
                {
                    var built = Path.Combine(dir.FullName, "tests", "TestAgent", "bin", configuration, "net10.0", "TestAgent.dll");
                    if (Runnable(built))
                    {
                        return built;
                    }
                }
            }
        }

        throw new FileNotFoundException(
            "TestAgent.dll was not found beside the benchmarks or under tests/TestAgent/bin. Build it: dotnet build -c Release tests/TestAgent");
    }
}
