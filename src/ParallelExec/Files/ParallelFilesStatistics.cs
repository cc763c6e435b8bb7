namespace ParallelExec.Files;

/// <summary>
/// A snapshot of one <see cref="ParallelFiles"/> instance since it was created: its <see cref="ComponentStatistics.Ledger"/>
/// (a file operation is the item: a file that could not be read, written, copied, deleted or processed counts as
/// <see cref="LedgerSnapshot.Failed"/>; one a cancelled or abandoned enumeration never finished counts as
/// <see cref="LedgerSnapshot.Cancelled"/>, or as <see cref="LedgerSnapshot.Dropped"/> when a drain timeout cut it) and the
/// bytes moved.
/// </summary>
public sealed class ParallelFilesStatistics : ComponentStatistics
{
    internal ParallelFilesStatistics(string name, LedgerSnapshot ledger, long bytesRead, long bytesWritten)
        : base(name, ledger)
    {
        BytesRead = bytesRead;
        BytesWritten = bytesWritten;
    }

    /// <summary>Gets the number of bytes read by reads and by the source side of copies.</summary>
    public long BytesRead { get; }

    /// <summary>Gets the number of bytes written by writes and copies.</summary>
    public long BytesWritten { get; }
}
