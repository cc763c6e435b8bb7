using ParallelExec.Analyzers.Tests.Infrastructure;

namespace ParallelExec.Analyzers.Tests;

public class IndependentAwaitsTests
{
    private const string Services = """
        public sealed class Users { public Task<string> GetAsync(int id) => Task.FromResult("u" + id); public Task<int> PublishAsync(string s) => Task.FromResult(1); }
        public sealed class Orders { public Task<int[]> ForUserAsync(int id) => Task.FromResult(new[] { id }); public Task<int> CountAsync(string user) => Task.FromResult(user.Length); public Task<int> SaveAsync(string s) => Task.FromResult(1); }
        """;

    [Fact]
    public async Task Three_awaits_with_ConfigureAwait_keep_it_on_the_await()
    {
        var source = """
            using System.Threading.Tasks;

            public static class Feed
            {
                public static async Task<int> LoadAsync(Users users, Orders orders, Users archive)
                {
                    var a = await users.GetAsync(1).ConfigureAwait(false); // the user
                    var b = await orders.ForUserAsync(2).ConfigureAwait(false);
                    var c = await archive.GetAsync(3).ConfigureAwait(false);
                    return a.Length + b.Length + c.Length;
                }
            }

            """ + Services;

        Assert.Equal(new[] { "PEX001@7" }, await Harness.DiagnosticsAsync(source));
        var fixedSource = await Harness.FixAsync(source, "PEX001");
        Assert.Contains("""
                    var aTask = users.GetAsync(1);
                    var bTask = orders.ForUserAsync(2);
                    var cTask = archive.GetAsync(3);
                    var a = await aTask.ConfigureAwait(false); // the user
                    var b = await bTask.ConfigureAwait(false);
                    var c = await cTask.ConfigureAwait(false);
            """, fixedSource);
    }

    [Fact]
    public async Task A_run_stops_at_the_first_await_that_uses_an_earlier_result()
    {
        var source = """
            using System.Threading.Tasks;

            public static class Feed
            {
                public static async Task<int> LoadAsync(Users users, Orders orders, Users archive)
                {
                    var a = await users.GetAsync(1);
                    var b = await archive.GetAsync(2);
                    var count = await orders.CountAsync(a);
                    return b.Length + count;
                }
            }

            """ + Services;

        Assert.Equal(new[] { "PEX001@7" }, await Harness.DiagnosticsAsync(source));
        Assert.StartsWith("These 2 awaits", await Harness.MessageAsync(source));
    }

    [Fact]
    public async Task The_task_names_do_not_collide_with_existing_locals()
    {
        var source = """
            using System.Threading.Tasks;

            public static class Feed
            {
                public static async Task<int> LoadAsync(Users users, Orders orders)
                {
                    var aTask = 1;
                    var a = await users.GetAsync(aTask);
                    var b = await orders.ForUserAsync(2);
                    return a.Length + b.Length;
                }
            }

            """ + Services;

        var fixedSource = await Harness.FixAsync(source, "PEX001");
        Assert.Contains("var aTask2 = users.GetAsync(aTask);", fixedSource);
        Assert.Contains("var a = await aTask2;", fixedSource);
    }

    [Fact]
    public async Task Two_calls_on_one_HttpClient_are_independent()
    {
        var source = """
            using System.Net.Http;
            using System.Threading.Tasks;

            public static class Pages
            {
                public static async Task<int> LoadAsync(HttpClient http)
                {
                    var home = await http.GetStringAsync("https://example.invalid/");
                    var about = await http.GetStringAsync("https://example.invalid/about");
                    return home.Length + about.Length;
                }
            }
            """;

        Assert.Equal(new[] { "PEX001@8" }, await Harness.DiagnosticsAsync(source));
    }

    [Theory]
    [InlineData("dependent", """
        var a = await users.GetAsync(1);
        var n = await orders.CountAsync(a);
        """)]
    [InlineData("same object, not known to be safe for concurrent calls", """
        var a = await users.GetAsync(1);
        var b = await users.GetAsync(2);
        """)]
    [InlineData("awaited for their effect only: presumed ordered", """
        await users.GetAsync(1);
        await orders.ForUserAsync(2);
        """)]
    [InlineData("a lambda writes a variable the other reads", """
        var seen = 0;
        var a = await Run(() => seen++);
        var b = await orders.ForUserAsync(seen);
        """)]
    [InlineData("timing and synchronization are ordered on purpose", """
        var gate = new SemaphoreSlim(1);
        var a = await gate.WaitAsync(10);
        var b = await gate.WaitAsync(10);
        """)]
    [InlineData("a stream is read in order", """
        var reader = new StringReader("x");
        var a = await reader.ReadLineAsync();
        var b = await reader.ReadLineAsync();
        """)]
    [InlineData("calls on this may share the instance's state", """
        var a = await Run(() => 1);
        var b = await Run(() => 2);
        """)]
    [InlineData("names that say they change something are ordered on purpose (save, then announce)", """
        var id = await orders.SaveAsync("x");
        var r = await users.PublishAsync("saved");
        """)]
    [InlineData("one mutable object handed to both calls", """
        var box = new System.Collections.Generic.List<int>();
        var a = await Fill(box);
        var b = await Sum(box);
        """)]
    [InlineData("a local function that changes captured state", """
        var log = new System.Collections.Generic.List<int>();
        async Task<int> LoadAsync(int id) { log.Add(id); return await Run(() => id); }
        var a = await LoadAsync(1);
        var b = await LoadAsync(2);
        """)]
    [InlineData("another await inside the arguments", """
        var a = await users.GetAsync(await Run(() => 1));
        var b = await orders.ForUserAsync(2);
        """)]
    public async Task Awaits_that_may_depend_on_each_other_are_not_reported(string why, string statements)
    {
        var source = """
            using System;
            using System.IO;
            using System.Threading;
            using System.Threading.Tasks;

            public sealed class Feed
            {
                public async Task LoadAsync(Users users, Orders orders)
                {
            """ + statements + """

                }

                private Task<int> Run(Func<int> f) => Task.FromResult(f());

                private static Task<int> Fill(System.Collections.Generic.List<int> box) => Task.FromResult(box.Count);

                private static Task<int> Sum(System.Collections.Generic.List<int> box) => Task.FromResult(box.Count);
            }

            """ + Services;

        Assert.True((await Harness.DiagnosticsAsync(source)).Length == 0, why);
    }

    [Fact]
    public async Task Awaits_that_use_a_resource_of_a_using_scope_are_not_reported()
    {
        var source = """
            using System;
            using System.Threading.Tasks;

            public sealed class Connection : IDisposable
            {
                public void Dispose() { }
            }

            public static class Repo
            {
                public static Task<string> UserAsync(Connection c, int id) => Task.FromResult("u");
                public static Task<int> CountAsync(Connection c) => Task.FromResult(1);

                public static async Task<int> LoadAsync()
                {
                    using var connection = new Connection();
                    var user = await UserAsync(connection, 1);
                    var count = await CountAsync(connection);
                    return user.Length + count;
                }
            }
            """;

        Assert.Empty(await Harness.DiagnosticsAsync(source));
    }

    [Fact]
    public async Task Static_calls_that_do_not_touch_the_resource_are_reported_inside_a_using_scope()
    {
        var source = """
            using System;
            using System.Threading.Tasks;

            public sealed class Scope : IDisposable
            {
                public void Dispose() { }
            }

            public static class Repo
            {
                public static Task<string> UserAsync(int id) => Task.FromResult("u");
                public static Task<int> CountAsync() => Task.FromResult(1);

                public static async Task<int> LoadAsync()
                {
                    using var scope = new Scope();
                    var user = await UserAsync(1);
                    var count = await CountAsync();
                    return user.Length + count;
                }
            }
            """;

        Assert.Equal(new[] { "PEX001@17" }, await Harness.DiagnosticsAsync(source));
        Assert.Contains("""
                    var userTask = UserAsync(1);
                    var countTask = CountAsync();
                    var user = await userTask;
                    var count = await countTask;
            """, await Harness.FixAsync(source, "PEX001"));
    }
}
