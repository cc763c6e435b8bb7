using System.Text;
using System.Text.RegularExpressions;

namespace ParallelExec.Tests.Docs;

/// <summary>
/// Keeps README.md honest: every C# block it shows must appear, verbatim up to whitespace, in
/// samples/QuickStart/Program.cs, which the solution builds with warnings as errors. A snippet edited in the README
/// without the sample (or an API change that breaks the sample) fails here or in the build.
/// </summary>
public partial class ReadmeTests
{
    /// <summary>The README is the first page a user reads (and the repository's front page): it stays short.</summary>
    private const int MaxReadmeBytes = 12 * 1024;

    [Fact]
    public void Every_csharp_block_of_the_README_is_in_the_QuickStart_sample()
    {
        string root = FindRepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        string sample = Normalize(File.ReadAllText(Path.Combine(root, "samples", "QuickStart", "Program.cs")));

        var blocks = CSharpBlock().Matches(readme).Select(m => m.Groups["code"].Value).ToList();
        Assert.NotEmpty(blocks);

        var missing = blocks.Where(block => !sample.Contains(Normalize(block), StringComparison.Ordinal)).ToList();
        Assert.True(
            missing.Count == 0,
            $"{missing.Count} of {blocks.Count} ```csharp blocks of README.md are not in samples/QuickStart/Program.cs " +
            $"(copy them there verbatim and make it build):{Environment.NewLine}{string.Join(Environment.NewLine + "---" + Environment.NewLine, missing)}");
    }

    [Fact]
    public void The_README_is_at_most_12_KiB()
    {
        long bytes = Encoding.UTF8.GetByteCount(File.ReadAllText(Path.Combine(FindRepositoryRoot(), "README.md")));
        Assert.True(bytes <= MaxReadmeBytes, $"README.md is {bytes} bytes; the limit is {MaxReadmeBytes}. Move reference material to docs/.");
    }

    /// <summary>Collapses every run of whitespace to one space, so indentation and line breaks do not matter.</summary>
    private static string Normalize(string code) => Whitespace().Replace(code, " ").Trim();

    /// <summary>Walks up from the test's output directory to the directory holding ParallelExec.sln.</summary>
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

    [GeneratedRegex(@"^```csharp[ \t]*\r?\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
