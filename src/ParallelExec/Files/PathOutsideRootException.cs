namespace ParallelExec.Files;

/// <summary>
/// A path given to a <see cref="ParallelFiles"/> confined by <see cref="ParallelFilesOptions.RootDirectory"/> leads
/// outside that directory: through <c>..</c>, as an absolute path elsewhere, or through a symbolic link. Nothing was
/// read, written or deleted for it.
/// </summary>
public sealed class PathOutsideRootException : UnauthorizedAccessException
{
    /// <summary>Initializes a new instance of the <see cref="PathOutsideRootException"/> class.</summary>
    /// <param name="path">The path as it was given.</param>
    /// <param name="rootDirectory">The directory paths must stay inside.</param>
    /// <param name="resolvedPath">Where the path leads once its symbolic links are followed, when a link took it outside; otherwise <see langword="null"/>.</param>
    public PathOutsideRootException(string path, string rootDirectory, string? resolvedPath)
        : base(resolvedPath is null
            ? $"The path '{path}' is outside the root directory '{rootDirectory}'."
            : $"The path '{path}' leads outside the root directory '{rootDirectory}' through a symbolic link, to '{resolvedPath}'.")
    {
        Path = path;
        RootDirectory = rootDirectory;
        ResolvedPath = resolvedPath;
    }

    /// <summary>Gets the path as it was given.</summary>
    public string Path { get; }

    /// <summary>Gets the directory paths must stay inside.</summary>
    public string RootDirectory { get; }

    /// <summary>Gets where the path leads once its symbolic links are followed, when a link took it outside; otherwise <see langword="null"/>.</summary>
    public string? ResolvedPath { get; }
}
