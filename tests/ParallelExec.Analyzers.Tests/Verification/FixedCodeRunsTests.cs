using System.Reflection;
using System.Runtime.Loader;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ParallelExec.Analyzers.Tests.Verification;

/// <summary>
/// The fix's output is not only well-formed: compiled against the real ParallelExec and run, the PEX002 fix of a loop
/// that collects results returns them in input order, though the later items finish first.
/// </summary>
public class FixedCodeRunsTests
{
    [Fact]
    public async Task The_ForEachAsync_fix_keeps_results_in_input_order_when_later_items_finish_first()
    {
        var compilation = CSharpCompilation.Create(
            "FixedCode",
            [CSharpSyntaxTree.ParseText(OrderedFetch.FixedSource)],
            [.. Verifier.RuntimeReferences, Verifier.ParallelExec],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));

        var context = new AssemblyLoadContext("FixedCode", isCollectible: true);
        try
        {
            image.Position = 0;
            var assembly = context.LoadFromStream(image);
            var client = Activator.CreateInstance(assembly.GetType("Client")!)!;
            var fetchAll = assembly.GetType("Crawler")!.GetMethod("FetchAllAsync", BindingFlags.Public | BindingFlags.Static)!;
            string[] urls = ["url-0", "url-1", "url-2", "url-3", "url-4", "url-5"];

            var pages = await (Task<List<string>>)fetchAll.Invoke(null, [client, urls])!;

            Assert.Equal(urls.Select(url => "page of " + url), pages);
        }
        finally
        {
            context.Unload();
        }
    }
}
