using ParallelExec.Testing;

namespace ParallelExec.Tests.Agents;

/// <summary>Finds AgentHost.dll (tests/AgentHost), the host process the containment tests start and kill.</summary>
internal static class AgentHostLocator
{
    private static readonly Lazy<string> Dll = new(() => TestAgentLocator.FindBuiltProgram("AgentHost")
        ?? throw new FileNotFoundException("AgentHost.dll was not found under tests/AgentHost/bin above " + AppContext.BaseDirectory + "; build the tests."));

    public static string DllPath => Dll.Value;
}
