using System.Text;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace ParallelExec.Tests.Docs;

/// <summary>
/// Every ```csharp block of docs/**/*.md compiles against this build of ParallelExec and ParallelExec.Sqlite. A block is
/// compiled as top-level statements: its own <c>using</c> directives first, then the SDK's implicit usings, then the
/// page's context from <see cref="DocsSnippetContext"/> (the placeholders the prose assumes: a <c>db</c>, a
/// <c>cancellationToken</c>, a <c>User</c> record), then the block. A block marked ```csharp ignore is not compiled; the
/// ignored blocks are listed in <see cref="IntentionallyPartial"/>, so a new one is a reviewed change.
/// </summary>
public partial class DocsSnippetTests
{
    /// <summary>The blocks that are partial on purpose ("file:line" of the opening fence), with the reason.</summary>
    private static readonly Dictionary<string, string> IntentionallyPartial = new(StringComparer.Ordinal)
    {
        ["observability.md:19"] = "host wiring with the OpenTelemetry packages, which the library does not reference",
    };

    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        // The test host's platform assemblies (the test project references ASP.NET Core, so its shared framework is
        // there too) and every assembly of this test's output: ParallelExec, ParallelExec.Sqlite, Polly.Core...
        var files = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Concat(Directory.GetFiles(AppContext.BaseDirectory, "*.dll"))
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(group => group.First());
        return [.. files.Where(IsManagedAssembly).Select(file => MetadataReference.CreateFromFile(file))];
    });

    public static TheoryData<string> Blocks()
    {
        var data = new TheoryData<string>();
        foreach (var block in ReadBlocks().Where(block => !block.Ignored))
        {
            data.Add(block.Name);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void The_csharp_block_compiles(string name)
    {
        var block = ReadBlocks().Single(candidate => candidate.Name == name);
        var page = Path.GetFileName(block.File);
        var context = DocsSnippetContext.For(page);
        var lines = block.Code.Split('\n');
        var usings = lines.TakeWhile(line => UsingDirective().IsMatch(line) || line.Trim().Length == 0).ToList();
        var body = lines.Skip(usings.Count);

        var program = new StringBuilder();
        foreach (var name2 in ImplicitUsings)
        {
            program.Append("global using global::").Append(name2).Append(";\n");
        }

        program.AppendJoin('\n', usings).Append('\n').Append(context.Usings).Append('\n');
        program.Append("#line hidden\n").Append(context.Statements).Append('\n');
        // Errors in the block point at the Markdown file's own lines.
        program.Append(CultureInfo($"#line {block.Line + 1 + usings.Count} \"{block.File}\"\n"));
        program.AppendJoin('\n', body).Append('\n');

        var trees = new List<SyntaxTree> { CSharpSyntaxTree.ParseText(program.ToString(), ParseOptions, path: "Program.cs") };
        if (context.Declarations.Length > 0)
        {
            trees.Add(CSharpSyntaxTree.ParseText("#nullable enable\n" + context.Usings + "\n" + context.Declarations, ParseOptions, path: "Context.cs"));
        }

        var compilation = CSharpCompilation.Create(
            "Snippet",
            trees,
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(diagnostic => diagnostic.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(
            errors.Count == 0,
            $"The ```csharp block at {block.Name} does not compile:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}" +
            $"{Environment.NewLine}--- as compiled ---{Environment.NewLine}{program}");
    }

    [Fact]
    public void The_docs_have_csharp_blocks_and_the_ignored_ones_are_listed()
    {
        var blocks = ReadBlocks();
        Assert.True(blocks.Count(block => !block.Ignored) >= 10, $"Only {blocks.Count(block => !block.Ignored)} compiled blocks were found under docs/: the extraction is broken.");
        var ignored = blocks.Where(block => block.Ignored).Select(block => block.Name).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(IntentionallyPartial.Keys.Order(StringComparer.Ordinal), ignored);
    }

    [Fact]
    public void A_block_that_does_not_compile_is_caught()
    {
        // The check itself: a call to a member ParallelExec does not have is an error, not a placeholder.
        var compilation = CSharpCompilation.Create(
            "Broken",
            [CSharpSyntaxTree.ParseText("using ParallelExec;\nawait using var pool = Exec.WorkerPool().WithNoSuchOption(3).Build();\n", ParseOptions)],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication));
        Assert.Contains(compilation.GetDiagnostics(), diagnostic => diagnostic.Id == "CS1061");
    }

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    private static List<DocBlock> ReadBlocks()
    {
        var root = Path.Combine(FindRepositoryRoot(), "docs");
        var blocks = new List<DocBlock>();
        foreach (var file in Directory.GetFiles(root, "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var text = File.ReadAllText(file).Replace("\r\n", "\n", StringComparison.Ordinal);
            foreach (Match match in CSharpBlock().Matches(text))
            {
                var line = text.AsSpan(0, match.Index).Count('\n') + 1;
                var name = Path.GetRelativePath(root, file).Replace('\\', '/') + ":" + line.ToString(System.Globalization.CultureInfo.InvariantCulture);
                blocks.Add(new DocBlock(name, file, line, match.Groups["code"].Value, match.Groups["info"].Value.Contains("ignore", StringComparison.Ordinal)));
            }
        }

        return blocks;
    }

    private static bool IsManagedAssembly(string path)
    {
        try
        {
            System.Reflection.AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    private static string CultureInfo(FormattableString text) => text.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "ParallelExec.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No ParallelExec.sln above {AppContext.BaseDirectory}.");
    }

    private sealed record DocBlock(string Name, string File, int Line, string Code, bool Ignored);

    [GeneratedRegex(@"^```csharp(?<info>[^\n]*)\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^\s*using\s+(static\s+)?[\w.]+(\s*=\s*[\w.<>]+)?\s*;")]
    private static partial Regex UsingDirective();
}
