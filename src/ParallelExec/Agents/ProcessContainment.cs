using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ParallelExec.Agents;

/// <summary>
/// Keeps an agent's process tree from outliving the agent or the host (<see cref="ProcessAgentOptions.ContainProcessTree"/>).
/// </summary>
/// <remarks>
/// <para>
/// Why process groups: <c>Process.Kill(entireProcessTree: true)</c> walks the tree by parent id, so once the agent
/// itself is dead (killed from outside, crashed) its children have been re-parented and can no longer be found. A
/// process group survives its leader: every descendant that does not leave the group on purpose is still in it, and
/// one <c>kill(-pgid, SIGKILL)</c> reaches them all. .NET cannot run code between fork and exec, so the group is made
/// by starting the agent through <c>setsid</c> (util-linux; no fork, since .NET's child is not a group leader): the
/// agent's pid is its group and session id.
/// </para>
/// <para>
/// Why a watchdog: nothing runs in a host killed with <c>SIGKILL</c>, and <c>PR_SET_PDEATHSIG</c> would need code in
/// the child before exec (and fires when the forking thread ends, not the process). So one small <c>/bin/sh</c>
/// process per host (<see cref="HostWatchdog"/>) holds the read end of a pipe only the host writes to; when the host
/// dies, by any means, the pipe reaches its end and the watchdog kills every group still registered.
/// </para>
/// </remarks>
internal static class ProcessContainment
{
    private const int SigKill = 9;
    private static readonly string? Setsid = OperatingSystem.IsLinux()
        ? Array.Find(["/usr/bin/setsid", "/bin/setsid"], File.Exists)
        : null;

    /// <summary>Gets whether agents can be started in process groups of their own here (Linux with <c>setsid</c>).</summary>
    public static bool UsesProcessGroups => Setsid is not null;

    /// <summary>Gets whether the host watchdog can run here (a POSIX shell: Linux, macOS).</summary>
    public static bool HasWatchdog => (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS()) && File.Exists("/bin/sh");

    /// <summary>Rewrites a start so that the program runs in a new session and process group (through <c>setsid</c>).</summary>
    /// <param name="info">The start to rewrite; its file name becomes <c>setsid</c> and the program its first argument.</param>
    /// <param name="program">The program's path, already resolved (setsid's own failure to run it would be less clear).</param>
    public static void StartInOwnGroup(ProcessStartInfo info, string program)
    {
        info.FileName = Setsid!;
        info.ArgumentList.Insert(0, "--");
        info.ArgumentList.Insert(1, program);
    }

    /// <summary>
    /// The argument of <c>kill</c> that reaches the agent's whole tree: <c>-pgid</c> with process groups, else the pid.
    /// </summary>
    /// <param name="processId">The agent's pid (its group id when it leads a group).</param>
    /// <returns>The target, as the watchdog's <c>kill</c> takes it.</returns>
    public static string KillTarget(int processId) =>
        (UsesProcessGroups ? -processId : processId).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Kills every process of the group led (once) by <paramref name="processGroupId"/>; no error if it is empty.</summary>
    /// <param name="processGroupId">The group id: the agent's pid.</param>
    public static void KillGroup(int processGroupId)
    {
        if (UsesProcessGroups && processGroupId > 1)
        {
            // ESRCH (no process left in the group) is the common, expected case: nothing to report.
            _ = NativeMethods.Kill(-processGroupId, SigKill);
        }
    }

    /// <summary>Finds a program on the <c>PATH</c> the way the OS would, for the start through <c>setsid</c>.</summary>
    /// <param name="fileName">A path or a bare name.</param>
    /// <returns>The full path, or <see langword="null"/> when a bare name is not on the <c>PATH</c>.</returns>
    public static string? Resolve(string fileName)
    {
        if (fileName.Contains('/', StringComparison.Ordinal))
        {
            return Path.GetFullPath(fileName);
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Kill(int pid, int signal);
    }
}
