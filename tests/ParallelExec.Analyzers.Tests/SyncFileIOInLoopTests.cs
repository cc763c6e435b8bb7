using ParallelExec.Analyzers.Tests.Infrastructure;

namespace ParallelExec.Analyzers.Tests;

public class SyncFileIOInLoopTests
{
    private static string Method(string modifiers, string body) => """
        using System.Collections.Generic;
        using System.IO;
        using System.Threading.Tasks;

        public static class Files
        {
            public static MODIFIERS Task<int> RunAsync(IEnumerable<string> paths, string target)
            {
                var total = 0;
        BODY
                await Task.Yield();
                return total;
            }
        }
        """.Replace("MODIFIERS", modifiers).Replace("BODY", body);

    [Fact]
    public async Task ReadAllText_per_path_in_an_async_method_is_reported()
    {
        var source = Method("async", """
                    foreach (var path in paths)
                    {
                        total += File.ReadAllText(path).Length;
                    }
            """);

        Assert.Equal(new[] { "PEX004@12" }, await Harness.DiagnosticsAsync(source));
        Assert.StartsWith("'File.ReadAllText' blocks a thread for each file of this loop", await Harness.MessageAsync(source));
        Assert.Null(await Harness.FixAsync(source, "PEX004"));
    }

    [Fact]
    public async Task Copy_in_a_for_loop_with_a_path_built_from_the_index_is_reported()
    {
        var source = Method("async", """
                    var list = new List<string>(paths);
                    for (var i = 0; i < list.Count; i++)
                    {
                        File.Copy(list[i], Path.Combine(target, i + ".bak"));
                    }
            """);

        Assert.Equal(new[] { "PEX004@13" }, await Harness.DiagnosticsAsync(source));
    }

    [Theory]
    [InlineData("async", "the same file every time", """
        foreach (var path in paths)
        {
            total += File.ReadAllText(target).Length;
        }
        """)]
    [InlineData("async", "appending to one file is ordered on purpose", """
        foreach (var path in paths)
        {
            File.AppendAllText(target, path);
        }
        """)]
    [InlineData("async", "not in a loop", """
        total += File.ReadAllText(target).Length;
        """)]
    [InlineData("async", "inside a lambda of the loop, not the loop's own code", """
        foreach (var path in paths)
        {
            System.Func<int> read = () => File.ReadAllText(path).Length;
        }
        """)]
    public async Task Calls_that_are_not_one_file_per_iteration_of_async_code_are_not_reported(string modifiers, string why, string body)
    {
        Assert.True((await Harness.DiagnosticsAsync(Method(modifiers, body))).Length == 0, why);
    }

    [Fact]
    public async Task A_synchronous_method_is_not_reported()
    {
        var source = """
            using System.Collections.Generic;
            using System.IO;

            public static class Files
            {
                public static int Run(IEnumerable<string> paths)
                {
                    var total = 0;
                    foreach (var path in paths)
                    {
                        total += File.ReadAllText(path).Length;
                    }

                    return total;
                }
            }
            """;

        Assert.Empty(await Harness.DiagnosticsAsync(source));
    }
}
