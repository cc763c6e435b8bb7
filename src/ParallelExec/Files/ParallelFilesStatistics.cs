namespace ParallelExec.Files;

/// <summary>A snapshot of the counters of one <see cref="ParallelFiles"/> instance since it was created.</summary>
public sealed class ParallelFilesStatistics
{
    internal ParallelFilesStatistics(long succeeded, long failed, long bytesRead, long bytesWritten)
    {
        Succeeded = succeeded;
        Failed = failed;
        BytesRead = bytesRead;
        BytesWritten = bytesWritten;
    }

    /// <summary>Gets the number of file operations that succeeded.</summary>
    public long Succeeded { get; }

    /// <summary>Gets the number of file operations that failed (each reported in its <see cref="FileResult"/>).</summary>
    public long Failed { get; }

    /// <summary>Gets the number of bytes read by reads and by the source side of copies.</summary>
    public long BytesRead { get; }

    /// <summary>Gets the number of bytes written by writes and copies.</summary>
    public long BytesWritten { get; }
}
