using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ParallelExec.Testing;

/// <summary>
/// A real redis-server this process starts for itself: a free loopback port, no persistence, killed when disposed.
/// Linked as source into the Redis tests and the benchmarks, so neither needs a server set up by hand.
/// </summary>
/// <remarks>
/// When redis-server is not on PATH, <c>tools/redis/install.sh</c> installs it first (Debian's package). Each server
/// writes its pid to <c>artifacts/redis/&lt;pid&gt;.pid</c> under the repository, removed when it stops, so CI can kill a
/// server that a crashed test host left behind by pid and never by name.
/// </remarks>
internal sealed class RedisServerProcess : IAsyncDisposable
{
    private static readonly SemaphoreSlim s_install = new(1, 1);
    private Process? _process;
    private string? _pidFile;

    private RedisServerProcess(int port)
    {
        Port = port;
    }

    /// <summary>Gets the loopback port the server listens on (kept across <see cref="RestartAsync"/>).</summary>
    public int Port { get; }

    /// <summary>Gets the StackExchange.Redis configuration string of the server.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    /// <summary>Gets the pid of the running server process.</summary>
    public int ProcessId => _process?.Id ?? 0;

    /// <summary>Starts a server on a free loopback port and waits until it answers PING.</summary>
    public static async Task<RedisServerProcess> StartAsync()
    {
        var executable = await FindOrInstallAsync().ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            // The free port is free when chosen; another process may take it before the server binds it: try another.
            var server = new RedisServerProcess(FreePort());
            try
            {
                await server.LaunchAsync(executable).ConfigureAwait(false);
                return server;
            }
            catch (InvalidOperationException) when (attempt < 3)
            {
            }
        }
    }

    /// <summary>Kills the server (SIGKILL: no shutdown save) and starts a fresh, empty one on the same port.</summary>
    public async Task RestartAsync()
    {
        Kill();
        await LaunchAsync(await FindOrInstallAsync().ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>Kills the server without restarting it.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            try
            {
                process.Kill();
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
                // Already exited.
            }

            process.Dispose();
            _process = null;
        }

        if (_pidFile is not null)
        {
            File.Delete(_pidFile);
            _pidFile = null;
        }
    }

    /// <summary>Sends one inline command and returns the server's first reply line (for example <c>+PONG</c>).</summary>
    public async Task<string> SendAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n")).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.ASCII);
        return await reader.ReadLineAsync().ConfigureAwait(false) ?? "";
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        return ValueTask.CompletedTask;
    }

    private async Task LaunchAsync(string executable)
    {
        var info = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "no" })
        {
            info.ArgumentList.Add(argument);
        }

        var output = new StringBuilder();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{executable} did not start.");
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        _pidFile = WritePidFile(process.Id);

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                string log;
                lock (output)
                {
                    log = output.ToString();
                }

                Kill();
                throw new InvalidOperationException($"redis-server exited with code {process.ExitCode} on port {Port}:\n{log}");
            }

            try
            {
                if (await SendAsync("PING").ConfigureAwait(false) == "+PONG")
                {
                    return;
                }
            }
            catch (SocketException)
            {
                // Not listening yet.
            }
            catch (IOException)
            {
                // Listening, not answering yet.
            }

            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                Kill();
                throw new TimeoutException($"redis-server on port {Port} did not answer PING within 30 s.");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }
    }

    private static string? WritePidFile(int pid)
    {
        if (FindRepositoryFile(Path.Combine("tools", "redis", "install.sh")) is not { } script)
        {
            return null;
        }

        var directory = Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(script)))!, "artifacts", "redis");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, pid + ".pid");
        File.WriteAllText(path, pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<string> FindOrInstallAsync()
    {
        await s_install.WaitAsync().ConfigureAwait(false);
        try
        {
            if (FindOnPath("redis-server") is { } found)
            {
                return found;
            }

            var script = FindRepositoryFile(Path.Combine("tools", "redis", "install.sh"))
                ?? throw new FileNotFoundException("redis-server is not on PATH and tools/redis/install.sh was not found above " + AppContext.BaseDirectory + ".");
            var info = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            info.ArgumentList.Add(script);
            using var install = Process.Start(info)!;
            var stdout = install.StandardOutput.ReadToEndAsync();
            var stderr = install.StandardError.ReadToEndAsync();
            await install.WaitForExitAsync().ConfigureAwait(false);
            if (install.ExitCode != 0 || FindOnPath("redis-server") is not { } installed)
            {
                throw new InvalidOperationException(
                    $"redis-server is not on PATH and {script} could not install it (exit code {install.ExitCode}):\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
            }

            return installed;
        }
        finally
        {
            s_install.Release();
        }
    }

    private static string? FindOnPath(string program)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]);
        return directories.Select(directory => Path.Combine(directory, program)).FirstOrDefault(File.Exists);
    }

    private static string? FindRepositoryFile(string relative)
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
            {
                var candidate = Path.Combine(directory.FullName, relative);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
