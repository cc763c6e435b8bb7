using ParallelExec.Agents;
using ParallelExec.Testing;

namespace ParallelExec.Benchmarks.Agents;

/// <summary>Builds the options that run the TestAgent program as <c>dotnet TestAgent.dll</c> (found by <see cref="TestAgentLocator"/>).</summary>
internal static class AgentBenchmarkHost
{
    public static ProcessAgentOptions Options(int startupMs)
    {
        var options = new ProcessAgentOptions { FileName = TestAgentLocator.DotnetHost };
        options.Arguments.Add(TestAgentLocator.DllPath);
        options.Arguments.Add("--startup-ms");
        options.Arguments.Add(startupMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return options;
    }
}
