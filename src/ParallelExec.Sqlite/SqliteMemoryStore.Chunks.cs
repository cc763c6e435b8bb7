using System.Data;

namespace ParallelExec.Sqlite;

/// <summary>
/// The bulk calls' rows, inside the call's transaction: as many keys per statement as the chunk statements allow
/// (largest first), the last few key by key.
/// </summary>
public sealed partial class SqliteMemoryStore
{
    /// <summary>Reads the live values of <paramref name="keys"/> into <paramref name="found"/>; cancellation is checked
    /// before each statement.</summary>
    private void ReadInChunks(SqliteStatements s, string namespaceName, List<string> keys, Dictionary<string, ReadOnlyMemory<byte>> found, CancellationToken token)
    {
        var now = NowMilliseconds();
        var next = 0;
        foreach (var chunk in s.GetChunks)
        {
            chunk.Namespace.Value = namespaceName;
            chunk.Time.Value = now;
            for (; next + chunk.Rows <= keys.Count; next += chunk.Rows)
            {
                token.ThrowIfCancellationRequested();
                for (var row = 0; row < chunk.Rows; row++)
                {
                    chunk.Keys[row].Value = keys[next + row];
                }

                using var reader = chunk.Command.ExecuteReader();
                while (reader.Read())
                {
                    found[reader.GetString(0)] = reader.GetFieldValue<byte[]>(1);
                }
            }
        }

        s.GetNamespace.Value = namespaceName;
        s.GetNow.Value = now;
        for (; next < keys.Count; next++)
        {
            token.ThrowIfCancellationRequested();
            s.GetKey.Value = keys[next];
            using var reader = s.Get.ExecuteReader(CommandBehavior.SingleRow);
            if (reader.Read())
            {
                found[keys[next]] = reader.GetFieldValue<byte[]>(0);
            }
        }
    }

    /// <summary>Upserts <paramref name="entries"/> in their order (a key given twice keeps its last value); cancellation is
    /// checked before each statement, inside the call's transaction, so a cancellation midway rolls back every row
    /// already written; the test seam sees every row once it is written.</summary>
    private void WriteInChunks(SqliteStatements s, string namespaceName, List<KeyValuePair<string, ReadOnlyMemory<byte>>> entries, TimeSpan? timeToLive, CancellationToken token)
    {
        var expiresAt = ExpiresAt(timeToLive);
        var next = 0;
        foreach (var chunk in s.SetChunks)
        {
            chunk.Namespace.Value = namespaceName;
            chunk.Time.Value = expiresAt;
            for (; next + chunk.Rows <= entries.Count; next += chunk.Rows)
            {
                token.ThrowIfCancellationRequested();
                for (var row = 0; row < chunk.Rows; row++)
                {
                    chunk.Keys[row].Value = entries[next + row].Key;
                    chunk.Values[row].Value = AsArray(entries[next + row].Value);
                }

                chunk.Command.ExecuteNonQuery();
                for (var row = 0; row < chunk.Rows; row++)
                {
                    AfterBulkRowWritten?.Invoke(next + row);
                }
            }
        }

        s.SetNamespace.Value = namespaceName;
        s.SetExpiresAt.Value = expiresAt;
        for (; next < entries.Count; next++)
        {
            token.ThrowIfCancellationRequested();
            s.SetKey.Value = entries[next].Key;
            s.SetValue.Value = AsArray(entries[next].Value);
            s.Set.ExecuteNonQuery();
            AfterBulkRowWritten?.Invoke(next);
        }
    }
}
