namespace ParallelExec.Files;

/// <summary>
/// Keeps paths inside one directory: resolves a path the way the kernel would (every symbolic link along it followed,
/// to its final target) and refuses it when the result is outside the directory's own resolved path.
/// </summary>
/// <remarks>
/// The check and the later use are two steps: a process that can change the directories inside the root between them
/// (swap a checked directory for a link) can still redirect that one operation. .NET exposes neither <c>openat2</c>
/// with <c>RESOLVE_BENEATH</c> nor <c>O_NOFOLLOW</c>, which would close that window; the operation uses the resolved
/// path (no link left in it at check time), which narrows it to a replacement made in that interval.
/// </remarks>
internal sealed class RootConfinement
{
    // Linux's own limit on links followed while resolving one path (ELOOP).
    private const int MaxLinksFollowed = 40;

    private static readonly StringComparison PathComparison =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    private readonly string _given;
    private readonly string _root;

    public RootConfinement(string rootDirectory)
    {
        _given = rootDirectory;
        // The root itself may sit behind links (/tmp on macOS is one): compare against where it really is.
        _root = Path.TrimEndingDirectorySeparator(Resolve(Path.GetFullPath(rootDirectory), rootDirectory, followLast: true));
    }

    /// <summary>
    /// Returns the resolved full path to use for <paramref name="path"/> (relative paths are taken from the root), or
    /// throws <see cref="PathOutsideRootException"/>.
    /// </summary>
    /// <param name="path">The path as the caller gave it.</param>
    /// <param name="followLast">
    /// Whether a link as the last component is followed: <see langword="true"/> when the operation opens the file,
    /// <see langword="false"/> for a delete, which removes the link itself.
    /// </param>
    public string Check(string path, bool followLast)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var full = Path.GetFullPath(path, _root);
        if (!IsInside(full))
        {
            throw new PathOutsideRootException(path, _given, resolvedPath: null);
        }

        var resolved = Resolve(full, path, followLast);
        if (!IsInside(resolved))
        {
            throw new PathOutsideRootException(path, _given, resolved);
        }

        return resolved;
    }

    private bool IsInside(string fullPath) =>
        fullPath.StartsWith(_root, PathComparison)
        && (fullPath.Length == _root.Length || Path.EndsInDirectorySeparator(_root) || fullPath[_root.Length] == Path.DirectorySeparatorChar || fullPath[_root.Length] == Path.AltDirectorySeparatorChar);

    /// <summary>
    /// Walks <paramref name="fullPath"/> one component at a time from its root, replacing every symbolic link met by its
    /// target (which is walked in turn), as the kernel does; components that do not exist yet are kept as they are.
    /// </summary>
    private static string Resolve(string fullPath, string given, bool followLast)
    {
        var current = Path.GetPathRoot(fullPath)!;
        var pending = new Stack<string>();
        Push(pending, fullPath[current.Length..]);
        var followed = 0;
        while (pending.Count > 0)
        {
            var name = pending.Pop();
            if (name.Length == 0 || name == ".")
            {
                continue;
            }

            if (name == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }

            var next = Path.Join(current, name);
            var target = followLast || pending.Count > 0 ? new FileInfo(next).LinkTarget : null;
            if (target is null)
            {
                current = next;
                continue;
            }

            if (++followed > MaxLinksFollowed)
            {
                throw new IOException($"Too many symbolic links while resolving the path '{given}'.");
            }

            // A relative target is relative to the link's directory, which is `current`.
            if (Path.IsPathRooted(target))
            {
                current = Path.GetPathRoot(target)!;
                target = target[current.Length..];
            }

            Push(pending, target);
        }

        return current;
    }

    /// <summary>Pushes the components of a relative path so that the first is popped first.</summary>
    private static void Push(Stack<string> pending, string relative)
    {
        var parts = relative.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar]);
        for (var i = parts.Length - 1; i >= 0; i--)
        {
            pending.Push(parts[i]);
        }
    }
}
