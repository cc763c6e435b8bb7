using System.Reflection;

namespace ParallelExec.Testing;

/// <summary>
/// Finds the TestAgent program and the dotnet host that runs it. Linked as source into the tests and the benchmarks,
/// which build TestAgent through a ProjectReference that does not reference its assembly.
/// </summary>
internal static class TestAgentLocator
{
    private static readonly Lazy<string> Dll = new(FindDll);

    /// <summary>Gets the path of TestAgent.dll (<c>PARALLELEXEC_TESTAGENT_DLL</c> overrides the search).</summary>
    public static string DllPath => Dll.Value;

    /// <summary>Gets the dotnet host: the one the SDK named, else the one running this process, else the PATH's.</summary>
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

    private static string FindDll()
    {
        if (Environment.GetEnvironmentVariable("PARALLELEXEC_TESTAGENT_DLL") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        return FindBuiltProgram("TestAgent")
            ?? throw new FileNotFoundException(
                "TestAgent.dll was not found under tests/TestAgent/bin above " + AppContext.BaseDirectory +
                "; build the tests or the benchmarks (they build tests/TestAgent) or set PARALLELEXEC_TESTAGENT_DLL.");
    }

    /// <summary>
    /// Finds the built dll of a program under <c>tests/{project}/bin</c> above this assembly or the current directory:
    /// the build of the caller's configuration first, then the newest.
    /// </summary>
    /// <param name="project">The project's directory and assembly name, for example <c>TestAgent</c>.</param>
    /// <returns>The dll's path, or <see langword="null"/> when none is built.</returns>
    internal static string? FindBuiltProgram(string project)
    {
        var configuration = typeof(TestAgentLocator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var bin = Path.Combine(directory.FullName, "tests", project, "bin");
                if (!Directory.Exists(bin))
                {
                    continue;
                }

                var found = Directory.GetFiles(bin, project + ".dll", SearchOption.AllDirectories)
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

        return null;
    }
}
