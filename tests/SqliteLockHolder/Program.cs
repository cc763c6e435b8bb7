using Microsoft.Data.Sqlite;

// Usage: SqliteLockHolder <database path> <table> <key>
// Opens the database, starts an immediate (write-locking) transaction, inserts one row under namespace 'ns' and the given
// key, prints "locked", then holds the lock until a line "commit" arrives on stdin (commits, exits 0) or stdin closes
// (rolls back, exits 1). The row lets a test prove the holder's write landed after the store's retried writes.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: SqliteLockHolder <database path> <table> <key>");
    return 2;
}

using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = args[0], Pooling = false }.ToString());
connection.Open();
using var transaction = connection.BeginTransaction(deferred: false);
using (var insert = connection.CreateCommand())
{
    insert.Transaction = transaction;
    // The table name comes from the test, not from a user; it cannot be a parameter.
    insert.CommandText = $"INSERT INTO {args[1]} (namespace, key, value, expires_at) VALUES ('ns', $key, x'01', NULL)";
    insert.Parameters.AddWithValue("$key", args[2]);
    insert.ExecuteNonQuery();
}

Console.WriteLine("locked");
Console.Out.Flush();
while (Console.ReadLine() is { } line)
{
    if (line.Trim() == "commit")
    {
        transaction.Commit();
        return 0;
    }
}

transaction.Rollback();
return 1;
