using ParallelExec.Analyzers.Tests.Infrastructure;

namespace ParallelExec.Analyzers.Tests;

public class LoopAwaitTests
{
    private const string Client = """
        public sealed class Client
        {
            public Task<string> FetchAsync(string url, CancellationToken cancellationToken = default) => Task.FromResult(url);
            public Task SendAsync(string message, CancellationToken cancellationToken = default) => Task.CompletedTask;
        }
        """;

    private static string InMethod(string body) => """
        using System;
        using System.Collections.Generic;
        using System.IO;
        using System.Threading;
        using System.Threading.Tasks;

        public sealed class Crawler
        {
            private readonly Client _client = new();
            private int _seen;

            public async Task RunAsync(IReadOnlyList<string> urls, TextWriter writer, CancellationToken cancellationToken)
            {
        """ + body + """

            }

            private void Note(string url) => _seen++;

            private static IAsyncDisposable Open(string url) => throw new NotSupportedException();

            private static class Registry { public static void Add(string url) { } }
        }

        """ + Client;

    [Fact]
    public async Task A_loop_that_collects_one_result_per_item_keeps_them_in_input_order_with_AddRange()
    {
        var source = """
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using ParallelExec;

            public sealed class Crawler
            {
                private readonly Client _client = new();

                public async Task<List<string>> CrawlAsync(string[] urls)
                {
                    var pages = new List<string>();
                    foreach (var url in urls)
                    {
                        pages.Add(await _client.FetchAsync(url).ConfigureAwait(false));
                    }

                    return pages;
                }
            }

            """ + Client.Replace("public sealed class Client", "public sealed class Client /* no token */");

        Assert.Equal(new[] { "PEX002@13" }, await Harness.DiagnosticsAsync(source.Replace("using System.Threading.Tasks;", "using System.Threading;\nusing System.Threading.Tasks;")));
        var fixedSource = await Harness.FixAsync(source.Replace("using System.Threading.Tasks;", "using System.Threading;\nusing System.Threading.Tasks;"), "PEX002");
        Assert.Contains("""
                    var pages = new List<string>();
                    pages.AddRange(await Exec.ForEachAsync(urls, /* maxDegreeOfParallelism */ 8, async (url, _) => await _client.FetchAsync(url).ConfigureAwait(false)).ConfigureAwait(false));

                    return pages;
            """, fixedSource);
    }

    [Fact]
    public async Task The_fix_compiles_whatever_the_bound_parameter_is_called()
    {
        var source = InMethod("""
                    foreach (var url in urls)
                    {
                        await _client.SendAsync(url, cancellationToken);
                    }
            """).Replace("using System;", "using System;\nusing ParallelExec;");

        // Today's library calls it maxParallel; the rename to maxDegreeOfParallelism is under way. The fix passes it by
        // position, so the code compiles against both (FixAsync fails when the fixed code does not compile).
        var oldName = ParallelExecApi.Source.Replace("maxDegreeOfParallelism", "maxParallel", StringComparison.Ordinal);
        Assert.Contains("/* maxDegreeOfParallelism */ 8", await Harness.FixAsync(source, "PEX002", parallelExecApi: oldName));
        Assert.Contains("/* maxDegreeOfParallelism */ 8", await Harness.FixAsync(source, "PEX002"));
    }

    [Fact]
    public async Task A_loop_in_top_level_statements_is_fixed_in_place()
    {
        var source = """
            using System.Linq;
            using System.Threading;
            using System.Threading.Tasks;

            static async ValueTask<string> AskAgentAsync(string task, CancellationToken cancellationToken)
            {
                await Task.Delay(50, cancellationToken);
                return "done: " + task;
            }

            var tasks = Enumerable.Range(1, 40).Select(i => "task-" + i).ToArray();
            foreach (var task in tasks.Take(10))
            {
                await AskAgentAsync(task, CancellationToken.None);
            }

            """;

        Assert.Equal(new[] { "PEX002@12" }, await Harness.DiagnosticsAsync(source, executable: true));
        var fixedSource = await Harness.FixAsync(source, "PEX002", executable: true);
        Assert.Contains("""
            var tasks = Enumerable.Range(1, 40).Select(i => "task-" + i).ToArray();
            await Exec.ForEachAsync(tasks.Take(10), /* maxDegreeOfParallelism */ 8, async (task, _) =>
            {
                await AskAgentAsync(task, CancellationToken.None);
                return true;
            });
            """, fixedSource);
        Assert.Contains("using ParallelExec;", fixedSource);
    }

    [Fact]
    public async Task A_loop_without_braces_inside_a_lambda_takes_the_lambdas_token()
    {
        var source = """
            using System;
            using System.Collections.Generic;
            using System.Threading;
            using System.Threading.Tasks;
            using ParallelExec;

            public sealed class Notifier
            {
                private readonly Client _client = new();

                public Func<IReadOnlyList<string>, CancellationToken, Task> Notify => async (users, token) =>
                {
                    foreach (var user in users)
                        await _client.SendAsync(user, token);
                };
            }

            """ + Client;

        Assert.Equal(new[] { "PEX002@13" }, await Harness.DiagnosticsAsync(source));
        var fixedSource = await Harness.FixAsync(source, "PEX002");
        Assert.Contains("""
                    await Exec.ForEachAsync(users, /* maxDegreeOfParallelism */ 8, async (user, _) =>
                    {
                        await _client.SendAsync(user, token);
                        return true;
                    }, token);
            """, fixedSource);
    }

    [Fact]
    public async Task A_discard_in_the_body_keeps_meaning_a_discard()
    {
        var source = InMethod("""
                    foreach (var url in urls)
                    {
                        _ = await _client.FetchAsync(url, cancellationToken);
                    }
            """).Replace("using System;", "using System;\nusing ParallelExec;");

        var fixedSource = await Harness.FixAsync(source, "PEX002");
        Assert.Contains("async (url, itemCancellation) =>", fixedSource);
        Assert.Contains("_ = await _client.FetchAsync(url, cancellationToken);", fixedSource);
    }

    [Fact]
    public async Task In_a_struct_the_loop_is_reported_without_a_fix()
    {
        var source = """
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using ParallelExec;

            public struct Notifier
            {
                private readonly Client _client;

                public Notifier(Client client) => _client = client;

                public async Task NotifyAsync(IEnumerable<string> users)
                {
                    foreach (var user in users)
                    {
                        await _client.SendAsync(user);
                    }
                }
            }

            """ + Client.Replace("public sealed class Client", "public sealed class Client /* */").Replace("CancellationToken cancellationToken = default", "System.Threading.CancellationToken cancellationToken = default");

        Assert.Equal(new[] { "PEX002@13" }, await Harness.DiagnosticsAsync(source));
        Assert.Null(await Harness.FixAsync(source, "PEX002"));
    }

    [Fact]
    public async Task Without_ParallelExec_the_loop_is_reported_but_no_fix_is_offered()
    {
        var source = InMethod("""
                    foreach (var url in urls)
                    {
                        await _client.SendAsync(url, cancellationToken);
                    }
            """);

        Assert.Equal(new[] { "PEX002@13" }, await Harness.DiagnosticsAsync(source, withParallelExec: false));
        Assert.Null(await Harness.FixAsync(source, "PEX002", withParallelExec: false));
    }

    [Theory]
    [InlineData("accumulation into a variable the next iteration reads", """
        var total = 0;
        foreach (var url in urls)
        {
            total += (await _client.FetchAsync(url)).Length;
        }
        """)]
    [InlineData("a break that depends on a result", """
        foreach (var url in urls)
        {
            var page = await _client.FetchAsync(url);
            if (page.Length == 0)
            {
                break;
            }
        }
        """)]
    [InlineData("writes to one stream, in order", """
        foreach (var url in urls)
        {
            await writer.WriteLineAsync(url);
        }
        """)]
    [InlineData("console output between the awaits", """
        foreach (var url in urls)
        {
            var page = await _client.FetchAsync(url);
            Console.WriteLine(page);
        }
        """)]
    [InlineData("a delay per item is pacing, not per-item work", """
        foreach (var url in urls)
        {
            await Task.Delay(100);
        }
        """)]
    [InlineData("the awaited work does not depend on the item", """
        foreach (var url in urls)
        {
            await _client.SendAsync("tick");
        }
        """)]
    [InlineData("the result list is also read inside the loop", """
        var pages = new List<string>();
        foreach (var url in urls)
        {
            if (pages.Count > 3) { Note(url); }
            pages.Add(await _client.FetchAsync(url));
        }
        """)]
    [InlineData("a call that changes the instance", """
        foreach (var url in urls)
        {
            Note(url);
            await _client.SendAsync(url);
        }
        """)]
    [InlineData("a field is written", """
        foreach (var url in urls)
        {
            _seen = (await _client.FetchAsync(url)).Length;
        }
        """)]
    [InlineData("a lambda writes captured state", """
        var count = 0;
        foreach (var url in urls)
        {
            Action bump = () => count++;
            await _client.SendAsync(url);
        }
        """)]
    [InlineData("a return inside the loop", """
        foreach (var url in urls)
        {
            if ((await _client.FetchAsync(url)).Length > 0) { return; }
        }
        """)]
    [InlineData("a catch around the loop would see an AggregateException", """
        try
        {
            foreach (var url in urls)
            {
                await _client.SendAsync(url);
            }
        }
        catch (InvalidOperationException)
        {
        }
        """)]
    [InlineData("disposal (and other lifecycle calls) keep their order", """
        foreach (var url in urls)
        {
            await Open(url).DisposeAsync();
        }
        """)]
    [InlineData("a result typed by its target (new()) that a lambda could not return", """
        var pages = new List<Client>();
        foreach (var url in urls)
        {
            await _client.SendAsync(url);
            pages.Add(new());
        }
        """)]
    [InlineData("a result whose nullability differs from the list's", """
        var pages = new List<string>();
        foreach (var url in urls)
        {
            pages.Add(url.Length > 3 ? await _client.FetchAsync(url) : null);
        }
        """)]
    [InlineData("a local function that changes captured state", """
        var seen = 0;
        async Task VisitAsync(string url) { seen++; await _client.SendAsync(url); }
        foreach (var url in urls)
        {
            await VisitAsync(url);
        }
        """)]
    [InlineData("a static call whose name says it changes shared state", """
        foreach (var url in urls)
        {
            Registry.Add(url);
            await _client.SendAsync(url);
        }
        """)]
    [InlineData("a continue", """
        foreach (var url in urls)
        {
            if (url.Length == 0) { continue; }
            await _client.SendAsync(url);
        }
        """)]
    public async Task Loops_with_state_or_order_between_iterations_are_not_reported(string why, string body)
    {
        Assert.True((await Harness.DiagnosticsAsync(InMethod(body))).Length == 0, why);
    }

    [Fact]
    public async Task Inner_break_and_item_local_state_do_not_stop_the_report()
    {
        var source = InMethod("""
                    foreach (var url in urls)
                    {
                        var label = nameof(url) + url.Trim();
                        var parts = 0;
                        foreach (var c in url)
                        {
                            if (c == '/') { break; }
                            parts++;
                        }

                        await _client.SendAsync(label + parts, cancellationToken);
                    }
            """);

        Assert.Equal(new[] { "PEX002@13" }, await Harness.DiagnosticsAsync(source));
        Assert.NotNull(await Harness.FixAsync(source, "PEX002"));
    }
}
