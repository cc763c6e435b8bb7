using System.Text;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Sqlite.Tests;

/// <summary>Holds a store's writer connection busy, so that the writes posted meanwhile wait on its lane together.</summary>
internal static class SqliteWriterHold
{
    /// <summary>Starts a one-row bulk write that holds the writer connection inside its transaction until <paramref name="release"/> is released.</summary>
    /// <returns>The bulk write, once it holds the connection.</returns>
    public static async Task<Task> StartAsync(SqliteMemoryStore store, string key, SemaphoreSlim release)
    {
        var inside = new SemaphoreSlim(0);
        store.AfterBulkRowWritten = _ =>
        {
            inside.Release();
            release.Wait(TestTimeout.Unexpected);
        };

        var bulk = Task.Run(async () => await store.SetManyAsync("ns", [new(key, Encoding.UTF8.GetBytes("1"))]));
        Assert.True(await inside.WaitAsync(TestTimeout.Unexpected));
        return bulk;
    }
}
