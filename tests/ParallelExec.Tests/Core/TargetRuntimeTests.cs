using System.Reflection;
using System.Runtime.Versioning;

namespace ParallelExec.Tests.Core;

/// <summary>
/// The suite runs once per shipped target (net10.0 and net8.0): each run must load the library build of its own target
/// on that target's runtime, or the other build goes untested while the run still says net8.0. On a machine with only
/// the .NET 10 runtime, the net8.0 run is self-contained (tests/Directory.Build.targets).
/// </summary>
public class TargetRuntimeTests
{
    [Fact]
    public void The_library_build_and_the_runtime_are_those_of_the_test_target()
    {
#if NET10_0
        const string expectedTarget = ".NETCoreApp,Version=v10.0";
        const int expectedMajor = 10;
#elif NET8_0
        const string expectedTarget = ".NETCoreApp,Version=v8.0";
        const int expectedMajor = 8;
#endif
        Assert.Equal(expectedTarget, typeof(Exec).Assembly.GetCustomAttribute<TargetFrameworkAttribute>()?.FrameworkName);
        Assert.Equal(expectedMajor, Environment.Version.Major);
    }
}
