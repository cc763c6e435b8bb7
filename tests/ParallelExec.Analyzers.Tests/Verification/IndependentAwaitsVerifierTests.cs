using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;
using ParallelExec.Analyzers.CodeFixes;

namespace ParallelExec.Analyzers.Tests.Verification;

/// <summary>PEX001 through Microsoft.CodeAnalysis.Testing: exact spans (every await of the run), the exact fix, and the silent cases.</summary>
public class IndependentAwaitsVerifierTests
{
    private const string Services = """

        public sealed class Users { public Task<string> GetAsync(int id) => Task.FromResult("u" + id); }
        public sealed class Orders { public Task<int[]> ForUserAsync(int id) => Task.FromResult(new[] { id }); public Task<int> CountAsync(string user) => Task.FromResult(user.Length); }
        """;

    [Fact]
    public async Task Two_independent_awaits_are_one_diagnostic_naming_both_and_the_fix_starts_both_then_awaits_both()
    {
        var source = """
            using System.Threading.Tasks;

            public sealed class Page
            {
                private readonly Users _users = new();
                private readonly Orders _orders = new();

                public async Task<string> LoadAsync(int id)
                {
                    var user = {|#0:await _users.GetAsync(id)|};
                    var orders = {|#1:await _orders.ForUserAsync(id)|};
                    return user + orders.Length;
                }
            }
            """ + Services;
        var fixedSource = """
            using System.Threading.Tasks;

            public sealed class Page
            {
                private readonly Users _users = new();
                private readonly Orders _orders = new();

                public async Task<string> LoadAsync(int id)
                {
                    var userTask = _users.GetAsync(id);
                    var ordersTask = _orders.ForUserAsync(id);
                    var user = await userTask;
                    var orders = await ordersTask;
                    return user + orders.Length;
                }
            }
            """ + Services;

        var test = new CSharpCodeFixTest<IndependentAwaitsAnalyzer, IndependentAwaitsCodeFixProvider, DefaultVerifier>
        {
            TestCode = source,
            FixedCode = fixedSource,
        };
        Verifier.Configure(test, withParallelExec: false);
        test.ExpectedDiagnostics.Add(new DiagnosticResult(DiagnosticIds.IndependentAwaits, DiagnosticSeverity.Info).WithLocation(0).WithLocation(1).WithArguments(2));
        await test.RunAsync();
    }

    [Fact]
    public async Task An_await_that_uses_the_previous_result_is_silent()
    {
        await Verifier.AnalyzerAsync<IndependentAwaitsAnalyzer>("""
            using System.Threading.Tasks;

            public static class Profile
            {
                public static async Task<int> LoadAsync(Users users, Orders orders)
                {
                    var user = await users.GetAsync(1);
                    var count = await orders.CountAsync(user);   // needs the user
                    return count;
                }
            }
            """ + Services, withParallelExec: false);
    }

    [Fact]
    public async Task Two_calls_on_the_same_object_are_silent_because_they_may_share_its_state()
    {
        await Verifier.AnalyzerAsync<IndependentAwaitsAnalyzer>("""
            using System.Threading.Tasks;

            public static class Profile
            {
                public static async Task<int> LoadAsync(Users users)
                {
                    var first = await users.GetAsync(1);
                    var second = await users.GetAsync(2);
                    return first.Length + second.Length;
                }
            }
            """ + Services, withParallelExec: false);
    }

    [Fact]
    public async Task Two_reads_of_one_stream_are_silent_because_their_order_is_the_data()
    {
        await Verifier.AnalyzerAsync<IndependentAwaitsAnalyzer>("""
            using System.IO;
            using System.Threading.Tasks;

            public static class Header
            {
                public static async Task<int> ReadAsync(Stream stream, byte[] magic, byte[] version)
                {
                    var a = await stream.ReadAsync(magic, 0, magic.Length);
                    var b = await stream.ReadAsync(version, 0, version.Length);
                    return a + b;
                }
            }
            """, withParallelExec: false);
    }

    [Fact]
    public async Task Awaits_inside_a_try_are_silent_because_the_fix_would_change_which_exception_is_caught_where()
    {
        await Verifier.AnalyzerAsync<IndependentAwaitsAnalyzer>("""
            using System;
            using System.Threading.Tasks;

            public static class Profile
            {
                public static async Task<int> LoadAsync(Users users, Orders orders)
                {
                    try
                    {
                        var user = await users.GetAsync(1);
                        var list = await orders.ForUserAsync(1);
                        return user.Length + list.Length;
                    }
                    catch (InvalidOperationException)
                    {
                        return 0;
                    }
                }
            }
            """ + Services, withParallelExec: false);
    }
}
