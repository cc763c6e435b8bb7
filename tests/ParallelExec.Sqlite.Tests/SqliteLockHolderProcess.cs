using System.Diagnostics;
using ParallelExec.Testing;

namespace ParallelExec.Sqlite.Tests;

/// <summary>
/// Another process holding the database's write lock: tests/SqliteLockHolder, which begins an immediate transaction,
/// writes a row and says so; it keeps the lock until <see cref="ReleaseAsync"/> tells it to commit.
/// </summary>
public sealed class SqliteLockHolderProcess : IDisposable
{
    private readonly Process _process;

    private SqliteLockHolderProcess(Process process) => _process = process;

    /// <summary>Gets the id of the holder process.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts the holder on <paramref name="path"/> and returns once it holds the write lock.</summary>
    public static async Task<SqliteLockHolderProcess> LockAsync(string path, string table, string key)
    {
        var dll = TestAgentLocator.FindBuiltProgram("SqliteLockHolder")
            ?? throw new FileNotFoundException("SqliteLockHolder.dll was not found under tests/SqliteLockHolder/bin; build the tests.");
        var process = Process.Start(new ProcessStartInfo(TestAgentLocator.DotnetHost, [dll, path, table, key])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;

        var holder = new SqliteLockHolderProcess(process);
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (line != "locked")
        {
            var error = await process.StandardError.ReadToEndAsync();
            holder.Dispose();
            throw new InvalidOperationException($"SqliteLockHolder did not take the lock: '{line}' {error}");
        }

        return holder;
    }

    /// <summary>Commits the holder's transaction (releasing the lock) and waits for the process to exit.</summary>
    public async Task ReleaseAsync()
    {
        await _process.StandardInput.WriteLineAsync("commit");
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"SqliteLockHolder exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync()}");
        }
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
