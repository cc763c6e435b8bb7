namespace ParallelExec.Sqlite.Tests;

/// <summary>A real SQLite database file in its own temp directory, deleted (with its WAL files) when the test ends.</summary>
public sealed class SqliteTestDatabase : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "parallelexec-sqlite-" + Guid.NewGuid().ToString("N"));

    public SqliteTestDatabase()
    {
        Directory.CreateDirectory(_directory);
    }

    public string NewPath() => Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
