using System.Reflection;

namespace ParallelExec.Tests.Agents;

/// <summary>Finds AgentHost.dll (tests/AgentHost), the host process the containment tests start and kill.</summary>
internal static class AgentHostLocator
{
    private static readonly Lazy<string> Dll = new(Find);

    public static string DllPath => Dll.Value;

    private static string Find()
    {
        var configuration = typeof(AgentHostLocator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var bin = Path.Combine(directory.FullName, "tests", "AgentHost", "bin");
            if (!Directory.Exists(bin))
            {
                continue;
            }

            var found = Directory.GetFiles(bin, "AgentHost.dll", SearchOption.AllDirectories)
                .Where(path => File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
                .OrderByDescending(path => path.Contains(Path.DirectorySeparatorChar + configuration + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                .ThenByDescending(File.GetLastWriteTimeUtc)
                .FirstOrDefault();
            if (found is not null)
            {
                return found;
            }
        }

        throw new FileNotFoundException("AgentHost.dll was not found under tests/AgentHost/bin above " + AppContext.BaseDirectory + "; build the tests.");
    }
}
