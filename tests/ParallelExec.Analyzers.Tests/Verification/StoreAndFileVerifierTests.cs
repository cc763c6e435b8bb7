using ParallelExec.Analyzers.CodeFixes;

namespace ParallelExec.Analyzers.Tests.Verification;

/// <summary>PEX003 and PEX004 through Microsoft.CodeAnalysis.Testing, against the real IMemoryStore.</summary>
public class StoreAndFileVerifierTests
{
    [Fact]
    public async Task GetAsync_per_key_becomes_one_GetManyAsync_before_the_loop()
    {
        await Verifier.CodeFixAsync<LoopAwaitAnalyzer, BulkStoreCallCodeFixProvider>("""
            using System;
            using System.Collections.Generic;
            using System.Threading;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Recall
            {
                public static async Task<int> TotalAsync(IMemoryStore store, List<string> keys, CancellationToken cancellationToken)
                {
                    var total = 0;
                    foreach (var key in keys)
                    {
                        var value = await {|PEX003:store.GetAsync("notes", key, cancellationToken)|};
                        total += value?.Length ?? 0;
                    }

                    return total;
                }
            }
            """, """
            using System;
            using System.Collections.Generic;
            using System.Threading;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Recall
            {
                public static async Task<int> TotalAsync(IMemoryStore store, List<string> keys, CancellationToken cancellationToken)
                {
                    var total = 0;
                    var values = await store.GetManyAsync("notes", keys, cancellationToken);
                    foreach (var key in keys)
                    {
                        var value = values.TryGetValue(key, out var found) ? found : (ReadOnlyMemory<byte>?)null;
                        total += value?.Length ?? 0;
                    }

                    return total;
                }
            }
            """);
    }

    [Fact]
    public async Task A_key_read_from_the_previous_value_is_silent()
    {
        // A linked list in the store: each read names the next key, so the reads cannot be batched.
        await Verifier.AnalyzerAsync<LoopAwaitAnalyzer>("""
            using System.Text;
            using System.Threading.Tasks;
            using ParallelExec.Memory;

            public static class Chain
            {
                public static async Task<int> LengthAsync(IMemoryStore store, string first)
                {
                    var length = 0;
                    string? key = first;
                    while (key is not null)
                    {
                        var value = await store.GetAsync("chain", key);
                        key = value is { } bytes ? Encoding.UTF8.GetString(bytes.Span) : null;
                        length++;
                    }

                    return length;
                }
            }
            """);
    }

    [Fact]
    public async Task Synchronous_reads_in_a_loop_of_an_async_method_are_reported()
    {
        await Verifier.AnalyzerAsync<SyncFileIOInLoopAnalyzer>("""
            using System.Collections.Generic;
            using System.IO;
            using System.Threading.Tasks;

            public static class Count
            {
                public static async Task<int> CountAsync(IEnumerable<string> paths)
                {
                    var total = 0;
                    foreach (var path in paths)
                    {
                        total += {|PEX004:File.ReadAllText(path)|}.Length;
                    }

                    await Task.Yield();
                    return total;
                }
            }
            """);
    }

    [Fact]
    public async Task Synchronous_reads_in_a_synchronous_method_are_silent()
    {
        await Verifier.AnalyzerAsync<SyncFileIOInLoopAnalyzer>("""
            using System.Collections.Generic;
            using System.IO;

            public static class Count
            {
                public static int CountAll(IEnumerable<string> paths)
                {
                    var total = 0;
                    foreach (var path in paths)
                    {
                        total += File.ReadAllText(path).Length;
                    }

                    return total;
                }
            }
            """);
    }
}
