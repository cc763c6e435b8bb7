using System.Diagnostics;
using System.Text;

namespace ParallelExec.Agents;

/// <summary>
/// One <c>/bin/sh</c> process per host that kills every registered agent tree when the host dies, even by
/// <c>SIGKILL</c>: it reads registrations from a pipe only the host writes to, and the end of that pipe is the host's
/// death (or its normal exit). See <see cref="ProcessContainment"/>.
/// </summary>
/// <remarks>
/// The protocol is one line per change, <c>a TARGET</c> (add) or <c>r TARGET</c> (remove), where a target is what
/// <c>kill</c> takes: <c>-pgid</c> or a pid. Removal matters: a group id or pid is reused by the OS once free, and the
/// watchdog must not kill a stranger. The watchdog ignores SIGINT, SIGHUP and SIGTERM and runs in a session of its own
/// (where <c>setsid</c> exists), so a Ctrl+C or a terminal hang-up aimed at the host does not take it down first.
/// </remarks>
internal static class HostWatchdog
{
    private const string Script =
        "exec >/dev/null 2>&1\n" +
        "trap '' INT HUP TERM PIPE\n" +
        "targets=' '\n" +
        "while IFS= read -r line; do\n" +
        "  t=${line#? }\n" +
        "  case \"$line\" in\n" +
        "    a\\ *) targets=\"$targets$t \" ;;\n" +
        "    r\\ *) case \"$targets\" in *\" $t \"*) targets=\"${targets%%\" $t \"*} ${targets#*\" $t \"}\" ;; esac ;;\n" +
        "  esac\n" +
        "done\n" +
        "for t in $targets; do kill -s KILL -- \"$t\"; done\n";

    private static readonly object Gate = new();
    private static readonly HashSet<string> Targets = new(StringComparer.Ordinal);
    private static Process? _watchdog;
    private static Stream? _input;

    /// <summary>Gets the watchdog's pid, once it runs (for tests and diagnostics).</summary>
    internal static int? ProcessId
    {
        get
        {
            lock (Gate)
            {
                return _watchdog?.Id;
            }
        }
    }

    /// <summary>Registers a tree to kill when the host dies; starts the watchdog on first use. Never throws.</summary>
    /// <param name="target">The <c>kill</c> target (<see cref="ProcessContainment.KillTarget"/>).</param>
    /// <returns>Whether the tree is now watched.</returns>
    public static bool Register(string target)
    {
        lock (Gate)
        {
            Targets.Add(target);
            return Send("a " + target);
        }
    }

    /// <summary>Unregisters a tree that was killed or exited. Never throws.</summary>
    /// <param name="target">The target given to <see cref="Register"/>.</param>
    public static void Unregister(string target)
    {
        lock (Gate)
        {
            if (Targets.Remove(target) && _input is not null)
            {
                Send("r " + target);
            }
        }
    }

    private static bool Send(string line)
    {
        // A watchdog that died (killed by someone) is replaced, and told every target still registered.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            if (_input is null && !Start())
            {
                return false;
            }

            try
            {
                _input!.Write(Encoding.ASCII.GetBytes(line + "\n"));
                _input.Flush();
                return true;
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                Stop();
            }
        }

        return false;
    }

    private static bool Start()
    {
        try
        {
            var info = new ProcessStartInfo("/bin/sh")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                CreateNoWindow = true,
            };
            if (ProcessContainment.UsesProcessGroups)
            {
                ProcessContainment.StartInOwnGroup(info, "/bin/sh");
            }

            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(Script);
            var process = Process.Start(info)!;
            var input = process.StandardInput.BaseStream;
            var lines = new StringBuilder();
            foreach (var target in Targets)
            {
                lines.Append("a ").Append(target).Append('\n');
            }

            input.Write(Encoding.ASCII.GetBytes(lines.ToString()));
            input.Flush();
            _watchdog = process;
            _input = input;
            return true;
        }
        catch (Exception ex) when (ex is IOException or System.ComponentModel.Win32Exception or InvalidOperationException or PlatformNotSupportedException)
        {
            // No shell to run: the trees are still killed when their agents stop, only not when the host dies.
            Stop();
            return false;
        }
    }

    private static void Stop()
    {
        try
        {
            _input?.Dispose();
        }
        catch (IOException)
        {
            // Already broken.
        }

        _watchdog?.Dispose();
        _input = null;
        _watchdog = null;
    }
}
