using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace ParallelExec.Analyzers.Tests.Verification;

/// <summary>
/// Microsoft.CodeAnalysis.Testing's verifiers, set up for these analyzers: the test code compiles against the running
/// runtime's assemblies (no reference package is downloaded) and, unless a test says otherwise, against the real
/// ParallelExec assembly, which the fixes write calls to. The verifiers check every expected diagnostic at its marked
/// span and no other, that the fixed code matches exactly, that it compiles (compiler errors count as unexpected
/// diagnostics), and that the fix leaves no diagnostic behind.
/// </summary>
internal static class Verifier
{
    /// <summary>The runtime's assemblies, and ParallelExec's.</summary>
    public static readonly ImmutableArray<MetadataReference> RuntimeReferences = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
        .Split(Path.PathSeparator)
        .Where(path => Path.GetFileName(path) is var name && (name.StartsWith("System.", StringComparison.Ordinal) || name is "netstandard.dll" or "mscorlib.dll"))
        .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
        .ToImmutableArray();

    /// <summary>The real library the fixes call.</summary>
    public static readonly MetadataReference ParallelExec = MetadataReference.CreateFromFile(typeof(global::ParallelExec.Exec).Assembly.Location);

    /// <summary>Checks that <paramref name="source"/> gets exactly the diagnostics marked in it (<c>{|PEX002:...|}</c>).</summary>
    public static Task AnalyzerAsync<TAnalyzer>(string source, bool withParallelExec = true)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { TestCode = source };
        Configure(test, withParallelExec);
        return test.RunAsync();
    }

    /// <summary>Checks the diagnostics marked in <paramref name="source"/> and that the fix turns it into <paramref name="fixedSource"/>.</summary>
    public static Task CodeFixAsync<TAnalyzer, TCodeFix>(string source, string fixedSource, bool withParallelExec = true)
        where TAnalyzer : DiagnosticAnalyzer, new()
        where TCodeFix : CodeFixProvider, new()
    {
        var test = new CSharpCodeFixTest<TAnalyzer, TCodeFix, DefaultVerifier> { TestCode = source, FixedCode = fixedSource };
        Configure(test, withParallelExec);
        return test.RunAsync();
    }

    internal static void Configure<TVerifier>(AnalyzerTest<TVerifier> test, bool withParallelExec)
        where TVerifier : IVerifier, new()
    {
        // An empty set: the references come from the running runtime, so no test downloads a reference package.
        test.ReferenceAssemblies = new ReferenceAssemblies("net");
        test.TestState.AdditionalReferences.AddRange(RuntimeReferences);
        if (withParallelExec)
        {
            test.TestState.AdditionalReferences.Add(ParallelExec);
        }

        test.SolutionTransforms.Add((solution, projectId) =>
        {
            var project = solution.GetProject(projectId)!;
            return solution
                .WithProjectParseOptions(projectId, ((CSharpParseOptions)project.ParseOptions!).WithLanguageVersion(LanguageVersion.CSharp12))
                .WithProjectCompilationOptions(projectId, project.CompilationOptions!.WithOutputKind(OutputKind.DynamicallyLinkedLibrary));
        });
    }
}
