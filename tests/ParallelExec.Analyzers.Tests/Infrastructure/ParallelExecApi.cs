namespace ParallelExec.Analyzers.Tests.Infrastructure;

/// <summary>
/// The part of ParallelExec's public API the fixes write calls to, as source, so a test compilation "references
/// ParallelExec" without this test project depending on the library while it is being restructured. The signatures are
/// those of src/ParallelExec (Exec.ForEachAsync with the parameter's new name, maxDegreeOfParallelism; IMemoryStore's
/// single and bulk calls).
/// </summary>
internal static class ParallelExecApi
{
    public const string Source = """
        namespace ParallelExec
        {
            public static class Exec
            {
                public static System.Threading.Tasks.Task<TResult[]> ForEachAsync<TSource, TResult>(
                    System.Collections.Generic.IEnumerable<TSource> items, int maxDegreeOfParallelism,
                    System.Func<TSource, System.Threading.CancellationToken, System.Threading.Tasks.ValueTask<TResult>> body,
                    System.Threading.CancellationToken cancellationToken = default) => throw new System.NotImplementedException();

                public static System.Threading.Tasks.Task<TResult[]> ForEachAsync<TSource, TResult>(
                    System.Collections.Generic.IAsyncEnumerable<TSource> items, int maxDegreeOfParallelism,
                    System.Func<TSource, System.Threading.CancellationToken, System.Threading.Tasks.ValueTask<TResult>> body,
                    System.Threading.CancellationToken cancellationToken = default) => throw new System.NotImplementedException();
            }
        }

        namespace ParallelExec.Memory
        {
            using System;
            using System.Collections.Generic;
            using System.Threading;
            using System.Threading.Tasks;

            public interface IMemoryStore
            {
                ValueTask<ReadOnlyMemory<byte>?> GetAsync(string namespaceName, string key, CancellationToken cancellationToken = default);
                ValueTask<IReadOnlyDictionary<string, ReadOnlyMemory<byte>>> GetManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default);
                ValueTask SetAsync(string namespaceName, string key, ReadOnlyMemory<byte> value, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default);
                ValueTask SetManyAsync(string namespaceName, IEnumerable<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default);
                ValueTask<bool> DeleteAsync(string namespaceName, string key, CancellationToken cancellationToken = default);
                ValueTask<int> DeleteManyAsync(string namespaceName, IEnumerable<string> keys, CancellationToken cancellationToken = default);
                ValueTask<IReadOnlyList<string>> ListKeysAsync(string namespaceName, string prefix = "", CancellationToken cancellationToken = default);
            }
        }
        """;
}
