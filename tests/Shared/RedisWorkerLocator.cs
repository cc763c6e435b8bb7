using System.Diagnostics;
using System.Reflection;

namespace ParallelExec.Testing;

/// <summary>
/// Finds and starts the RedisWorker program (tests/RedisWorker): the other process of the Redis cross-process tests and
/// the queue benchmarks. Built through a ProjectReference that does not reference its assembly, like TestAgent.
/// </summary>
internal static class RedisWorkerLocator
{
    private static readonly Lazy<string> Dll = new(FindDll);

    /// <summary>Gets the path of RedisWorker.dll (<c>PARALLELEXEC_REDISWORKER_DLL</c> overrides the search).</summary>
    public static string DllPath => Dll.Value;

    /// <summary>Starts the worker with <paramref name="arguments"/>, its standard streams redirected.</summary>
    public static Process Start(params string[] arguments)
    {
        var info = new ProcessStartInfo(TestAgentLocator.DotnetHost)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("RedisWorker did not start.");
    }

    private static string FindDll()
    {
        if (Environment.GetEnvironmentVariable("PARALLELEXEC_REDISWORKER_DLL") is { Length: > 0 } overridden)
        {
            return overridden;
        }

        var configuration = typeof(RedisWorkerLocator).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var bin = Path.Combine(directory.FullName, "tests", "RedisWorker", "bin", configuration);
            var candidate = Directory.Exists(bin) ? Directory.GetFiles(bin, "RedisWorker.dll", SearchOption.AllDirectories).FirstOrDefault() : null;
            if (candidate is not null)
            {
                return candidate;
            }
        }

        throw new FileNotFoundException(
            $"RedisWorker.dll was not found under tests/RedisWorker/bin/{configuration} above {AppContext.BaseDirectory}; build the Redis tests or the benchmarks (they build tests/RedisWorker) or set PARALLELEXEC_REDISWORKER_DLL.");
    }
}
