using System.Diagnostics;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// Another process holding the database's write lock: the <c>sqlite3</c> command-line shell, told over its stdin to
/// <c>BEGIN IMMEDIATE</c>, write a row, and say so; it keeps the lock until <see cref="ReleaseAsync"/> commits.
/// </summary>
/// <remarks>Needs the <c>sqlite3</c> shell on the PATH (Debian/Ubuntu package <c>sqlite3</c>); the tests fail with that
/// message otherwise, they are never skipped.</remarks>
public sealed class SqliteCliLockHolder : IDisposable
{
    private readonly Process _process;

    private SqliteCliLockHolder(Process process) => _process = process;

    /// <summary>Gets the id of the holder process.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts the shell on <paramref name="path"/> and returns once it holds the write lock.</summary>
    public static async Task<SqliteCliLockHolder> LockAsync(string path, string table, string key)
    {
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo("sqlite3", ["-batch", path])
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("These tests need the sqlite3 command-line shell on the PATH (apt-get install sqlite3).", ex);
        }

        var holder = new SqliteCliLockHolder(process);
        await process.StandardInput.WriteLineAsync("BEGIN IMMEDIATE;");
        await process.StandardInput.WriteLineAsync($"INSERT INTO {table} (namespace, key, value, expires_at) VALUES ('ns', '{key}', x'01', NULL);");
        await process.StandardInput.WriteLineAsync(".print locked");
        await process.StandardInput.FlushAsync();
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line != "locked")
        {
            var error = await process.StandardError.ReadToEndAsync();
            holder.Dispose();
            throw new InvalidOperationException($"sqlite3 did not take the lock: '{line}' {error}");
        }

        return holder;
    }

    /// <summary>Commits the holder's transaction (releasing the lock) and waits for the process to exit.</summary>
    public async Task ReleaseAsync()
    {
        await _process.StandardInput.WriteLineAsync("COMMIT;");
        await _process.StandardInput.WriteLineAsync(".quit");
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}
