using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;

namespace ParallelExec.Agents;

/// <content>
/// The process's life: how it is started, how its exit is noticed (failing the requests in flight with the exit code and
/// the end of standard error), and how disposal kills the whole process tree.
/// </content>
public sealed partial class ProcessAgent
{
    private static ProcessStartInfo CreateStartInfo(ProcessAgentOptions options, AgentSpec? spec)
    {
        var info = new ProcessStartInfo(options.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            CreateNoWindow = true,
            StandardInputEncoding = Utf8,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
            WorkingDirectory = options.WorkingDirectory ?? string.Empty,
        };
        foreach (var argument in options.Arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (spec is not null)
        {
            foreach (var argument in spec.Arguments)
            {
                info.ArgumentList.Add(argument);
            }
        }

        if (!options.InheritEnvironment)
        {
            // Start from nothing: only the allow-listed variables of this process reach the agent.
            var allowed = new List<(string Name, string Value)>();
            foreach (var name in options.InheritedEnvironmentVariables)
            {
                if (System.Environment.GetEnvironmentVariable(name) is { } value)
                {
                    allowed.Add((name, value));
                }
            }

            info.Environment.Clear();
            foreach (var (name, value) in allowed)
            {
                info.Environment[name] = value;
            }
        }

        foreach (var (name, value) in options.Environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        if (spec?.SharedContext is string context)
        {
            info.Environment[SharedContextEnvironmentVariable] = context;
        }

        if (options.ContainProcessTree && ProcessContainment.UsesProcessGroups && ProcessContainment.Resolve(options.FileName) is { } program)
        {
            ProcessContainment.StartInOwnGroup(info, program);
        }

        return info;
    }

    private async Task OnExitedAsync()
    {
        // Cannot throw (it is started unobserved from the Exited event): every await below catches what it can raise.
        // The agent is gone, so whatever is left in its group is an orphan: kill it now, before it holds the output
        // pipe open or outlives the agent.
        ReleaseContainment();

        // The output may still hold replies written just before the exit: let the reader reach its end first, but do not
        // depend on it (a grandchild holding the pipe open would keep it from ever ending).
        try
        {
            await _readLoop.WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await TerminateAsync().ConfigureAwait(false);
        }
    }

    private async Task TerminateAsync()
    {
        if (Interlocked.Exchange(ref _terminated, 1) != 0)
        {
            return;
        }

        // Wait briefly for the exit (and the end of standard error) so the exception carries the exit code and the cause.
        var exitedNow = true;
        try
        {
            await _process.WaitForExitAsync().WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException or SystemException)
        {
            // Still running (it closed its output but lives on) or already released: report what is known.
        }

        try
        {
            if (_process.HasExited)
            {
                _exitCode = _process.ExitCode;
            }
            else
            {
                exitedNow = false;
            }
        }
        catch (InvalidOperationException)
        {
            // Released by dispose.
            exitedNow = false;
        }

        if (exitedNow)
        {
            // The end of standard error is what says why it exited: let its reader reach the end (a descendant holding
            // the pipe open would keep it from ever ending, hence the bound).
            try
            {
                await _errorLoop.WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // Report what was read.
            }
        }

        _ready.TrySetException(new AgentSpawnException(
            Id,
            $"Agent '{Id}' (pid {ProcessId}) {ExitDescription()} before it reported ready.{StandardErrorSuffix()}",
            null));
        foreach (var requestId in _pending.Keys)
        {
            if (_pending.TryRemove(requestId, out var pending))
            {
                pending.TrySetException(Volatile.Read(ref _disposed) != 0
                    ? new ObjectDisposedException(GetType().FullName, $"Agent '{Id}' was disposed while the request was in flight.")
                    : CreateTerminatedException("exited while the request was in flight", null));
            }
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
    }

    private Exception CreateTerminatedException(string what, Exception? inner) => new AgentCrashedException(
        Id,
        _exitCode,
        $"Agent '{Id}' (pid {ProcessId}) {what}: it {ExitDescription()}.{StandardErrorSuffix()}",
        inner);

    private string ExitDescription() => _exitCode is { } code
        ? "exited with code " + code.ToString(CultureInfo.InvariantCulture)
        : "stopped";

    private string StandardErrorSuffix()
    {
        var tail = _standardError.ToString().TrimEnd();
        if (tail.Length == 0)
        {
            return string.Empty;
        }

        if (tail.Length > 1000)
        {
            tail = string.Concat("...", tail.AsSpan(tail.Length - 1000));
        }

        return " Standard error: " + tail;
    }

    /// <summary>Kills what is left of the agent's group (descendants included) and stops watching it. Idempotent.</summary>
    private void ReleaseContainment()
    {
        if (_watchTarget is null || Interlocked.Exchange(ref _containmentReleased, 1) != 0)
        {
            return;
        }

        ProcessContainment.KillGroup(ProcessId);
        HostWatchdog.Unregister(_watchTarget);
    }

    private async Task DisposeCoreAsync()
    {
        Exception? killFailure = null;
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
        catch (Exception ex) when (ex is Win32Exception or NotSupportedException)
        {
            killFailure = ex;
        }

        ProcessContainment.KillGroup(ProcessId);
        var exited = false;
        try
        {
            await _process.WaitForExitAsync().WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
            exited = true;
        }
        catch (InvalidOperationException)
        {
            exited = true; // Not started or already released: nothing runs.
        }
        catch (Exception ex) when (ex is TimeoutException or SystemException)
        {
            // Reported below: the kill was sent and the process did not go.
        }

        // The killed process's output ends, so the reader finishes by itself (and terminates the agent) without the
        // cost of a cancellation; only a pipe held open by an unkillable descendant needs the explicit stop below.
        try
        {
            await _readLoop.WaitAsync(ExitGrace, _options.TimeProvider).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Stopped below.
        }

        await TerminateAsync().ConfigureAwait(false);

        try
        {
            _input.Dispose();
        }
        catch (IOException)
        {
            // The pipe is already broken.
        }

        ReleaseContainment();
        _process.Dispose();
        _jsonWriter.Dispose();
        if (!exited)
        {
            // Not swallowed: a process that survives its kill is one the host can no longer account for.
            throw new AgentException(
                Id,
                $"Agent '{Id}' (pid {ProcessId}) could not be stopped: it was still running " + ExitGrace.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + " s after it was killed.",
                killFailure);
        }
    }
}
