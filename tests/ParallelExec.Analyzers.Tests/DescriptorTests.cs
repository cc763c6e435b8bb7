using System.Reflection;
using Microsoft.CodeAnalysis.Diagnostics;

namespace ParallelExec.Analyzers.Tests;

public class DescriptorTests
{
    public static TheoryData<string> Ids => new() { DiagnosticIds.IndependentAwaits, DiagnosticIds.AwaitInLoop, DiagnosticIds.OneByOneStoreCalls, DiagnosticIds.SyncFileIOInLoop };

    [Theory]
    [MemberData(nameof(Ids))]
    public void Every_diagnostic_has_one_analyzer_a_docs_page_and_a_help_link_to_it(string id)
    {
        var descriptors = typeof(IndependentAwaitsAnalyzer).Assembly.GetTypes()
            .Where(type => typeof(DiagnosticAnalyzer).IsAssignableFrom(type) && !type.IsAbstract)
            .SelectMany(type => ((DiagnosticAnalyzer)Activator.CreateInstance(type)!).SupportedDiagnostics)
            .Where(descriptor => descriptor.Id == id)
            .ToList();

        var descriptor = Assert.Single(descriptors);
        Assert.EndsWith("docs/analyzers/" + id + ".md", descriptor.HelpLinkUri, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(RepositoryRoot(), "docs", "analyzers", id + ".md")), id + " has no page under docs/analyzers");
        Assert.True(descriptor.IsEnabledByDefault);
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(Path.GetDirectoryName(Assembly.GetExecutingAssembly().Location)!);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ParallelExec.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("ParallelExec.sln not found above the test assembly");
    }
}
