using System.Diagnostics;
using ParallelExec.Testing;
using ParallelExec.Tests.Infrastructure;

namespace ParallelExec.Redis.Tests;

/// <summary>A running RedisWorker process: started and ready, stopped by a "stop" line, or killed with SIGKILL.</summary>
internal sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private WorkerProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    /// <summary>Starts a worker and waits for its "ready" line.</summary>
    public static async Task<WorkerProcess> StartAsync(params string[] arguments)
    {
        var process = RedisWorkerLocator.Start(arguments);
        var worker = new WorkerProcess(process);
        var line = await process.StandardOutput.ReadLineAsync().WithTimeout();
        if (line != "ready")
        {
            var error = await process.StandardError.ReadToEndAsync().WithTimeout();
            worker.Kill();
            throw new InvalidOperationException($"RedisWorker {string.Join(' ', arguments)} did not become ready: '{line}'\n{error}");
        }

        return worker;
    }

    /// <summary>Asks the worker to finish its running work and exit, and waits for it.</summary>
    public async Task StopAsync()
    {
        await _process.StandardInput.WriteLineAsync("stop");
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync().WithTimeout();
        Assert.True(_process.ExitCode == 0, $"RedisWorker exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>SIGSTOP (<paramref name="frozen"/>) or SIGCONT: a frozen worker sends nothing more until thawed; what it
    /// wrote to its sockets before still reaches the server.</summary>
    public async Task FreezeAsync(bool frozen)
    {
        using var signal = Process.Start("kill", [frozen ? "-STOP" : "-CONT", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await signal.WaitForExitAsync().WithTimeout();
        Assert.Equal(0, signal.ExitCode);
    }

    /// <summary>SIGKILL: the worker dies at once, acknowledging nothing more.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
