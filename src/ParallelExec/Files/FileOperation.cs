namespace ParallelExec.Files;

/// <summary>The kind of operation a <see cref="FileResult"/> reports on.</summary>
public enum FileOperation
{
    /// <summary>The file was read (whole, or in chunks handed to a callback).</summary>
    Read = 0,

    /// <summary>The file was written.</summary>
    Write = 1,

    /// <summary>The file was copied to <see cref="FileResult.DestinationPath"/>.</summary>
    Copy = 2,

    /// <summary>The file was deleted.</summary>
    Delete = 3,

    /// <summary>A user callback processed the file.</summary>
    Process = 4,
}
