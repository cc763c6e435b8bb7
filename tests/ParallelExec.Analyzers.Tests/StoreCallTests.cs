using ParallelExec.Analyzers.Tests.Infrastructure;

namespace ParallelExec.Analyzers.Tests;

public class StoreCallTests
{
    [Fact]
    public async Task SetAsync_per_entry_is_fixed_to_one_SetManyAsync_with_the_same_arguments()
    {
        var source = """
            using System;
            using System.Collections.Generic;
            using System.Threading;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Remember
            {
                public static async Task SaveAsync(IMemoryStore store, IEnumerable<(string Key, byte[] Value)> notes, CancellationToken cancellationToken)
                {
                    foreach (var note in notes)
                    {
                        await store.SetAsync("notes", note.Key, note.Value, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                }
            }
            """;

        Assert.Equal(new[] { "PEX003@13" }, await Harness.DiagnosticsAsync(source));
        var fixedSource = await Harness.FixAsync(source, "PEX003");
        Assert.Contains("""
                public static async Task SaveAsync(IMemoryStore store, IEnumerable<(string Key, byte[] Value)> notes, CancellationToken cancellationToken)
                {
                    await store.SetManyAsync("notes", notes.Select(note => new KeyValuePair<string, ReadOnlyMemory<byte>>(note.Key, note.Value)), cancellationToken: cancellationToken).ConfigureAwait(false);
                }
            """, fixedSource);
        Assert.Contains("using System.Linq;", fixedSource);
    }

    [Fact]
    public async Task Any_type_with_a_ManyAsync_sibling_is_reported_without_a_fix()
    {
        var source = """
            using System.Collections.Generic;
            using System.Threading.Tasks;

            public sealed class Cache
            {
                public Task<string?> FetchAsync(string key) => Task.FromResult<string?>(key);
                public Task<IReadOnlyList<string?>> FetchManyAsync(IEnumerable<string> keys) => Task.FromResult<IReadOnlyList<string?>>(new List<string?>());
            }

            public static class Reader
            {
                public static async Task<int> CountAsync(Cache cache, string[] keys)
                {
                    var found = 0;
                    foreach (var key in keys)
                    {
                        if (await cache.FetchAsync(key) is not null) { found++; }
                    }

                    return found;
                }
            }
            """;

        Assert.Equal(new[] { "PEX003@17" }, await Harness.DiagnosticsAsync(source, withParallelExec: false));
        Assert.Null(await Harness.FixAsync(source, "PEX003", withParallelExec: false));
    }

    [Theory]
    [InlineData("the same key every time", """
        foreach (var key in keys)
        {
            var value = await store.GetAsync("notes", "settings");
            Use(key, value);
        }
        """)]
    [InlineData("read-modify-write of each key", """
        foreach (var key in keys)
        {
            var value = await store.GetAsync("notes", key);
            await store.SetAsync("notes", key, value ?? ReadOnlyMemory<byte>.Empty);
        }
        """)]
    [InlineData("the store comes from the iteration", """
        foreach (var key in keys)
        {
            var local = Pick(key);
            Use(key, await local.GetAsync("notes", key));
        }
        """)]
    public async Task Store_calls_that_are_not_one_per_item_are_not_reported(string why, string body)
    {
        var source = """
            using System;
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public sealed class Recall
            {
                public async Task RunAsync(IMemoryStore store, List<string> keys)
                {
            """ + body + """

                }

                private static void Use(string key, ReadOnlyMemory<byte>? value) { }

                private IMemoryStore Pick(string key) => throw new NotSupportedException();
            }
            """;

        Assert.True(!(await Harness.DiagnosticsAsync(source)).Any(d => d.StartsWith("PEX003", StringComparison.Ordinal)), why);
    }

    [Fact]
    public async Task A_call_in_nested_loops_is_reported_once_for_its_innermost_loop()
    {
        var source = """
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Remember
            {
                public static async Task SaveAsync(IMemoryStore store, List<string>[] shares)
                {
                    for (var m = 0; m < shares.Length; m++)
                    {
                        foreach (var path in shares[m])
                        {
                            await store.SetAsync("notes", path, new byte[] { 1 });
                        }
                    }
                }
            }
            """;

        Assert.Equal(new[] { "PEX003@13" }, await Harness.DiagnosticsAsync(source));
    }

    [Fact]
    public async Task A_GetAsync_loop_over_a_lazy_sequence_is_reported_but_not_fixed()
    {
        var source = """
            using System.Collections.Generic;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Recall
            {
                public static async Task<int> CountAsync(IMemoryStore store, IEnumerable<string> keys)
                {
                    var found = 0;
                    foreach (var key in keys)
                    {
                        if (await store.GetAsync("notes", key) is not null) { found++; }
                    }

                    return found;
                }
            }
            """;

        Assert.Equal(new[] { "PEX003@12" }, await Harness.DiagnosticsAsync(source));
        Assert.Null(await Harness.FixAsync(source, "PEX003"));
    }
}
