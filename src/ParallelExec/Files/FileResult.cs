using System.Diagnostics;

namespace ParallelExec.Files;

/// <summary>
/// The outcome of one file operation run by <see cref="ParallelFiles"/>: every input path gets exactly one result, so a
/// bad file never hides the others.
/// </summary>
[DebuggerDisplay("{Operation} {Path}: {Succeeded ? \"ok\" : Exception.Message}")]
public sealed class FileResult
{
    internal FileResult(string path, FileOperation operation, ReadOnlyMemory<byte> data, long bytesProcessed, string? destinationPath, Exception? exception)
    {
        Path = path;
        Operation = operation;
        Data = data;
        BytesProcessed = bytesProcessed;
        DestinationPath = destinationPath;
        Exception = exception;
    }

    /// <summary>Gets the path the operation was asked to work on, exactly as it was given.</summary>
    public string Path { get; }

    /// <summary>Gets the kind of operation.</summary>
    public FileOperation Operation { get; }

    /// <summary>Gets a value indicating whether the operation succeeded (<see cref="Exception"/> is <see langword="null"/>).</summary>
    public bool Succeeded => Exception is null;

    /// <summary>Gets the exception that made the operation fail, or <see langword="null"/> when it succeeded.</summary>
    public Exception? Exception { get; }

    /// <summary>
    /// Gets the content of the file for a successful whole-file read; empty for every other operation and for a failure.
    /// </summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Gets the number of bytes read, written or copied for this file (0 for a delete).</summary>
    public long BytesProcessed { get; }

    /// <summary>Gets the destination of a copy, or <see langword="null"/> for other operations.</summary>
    public string? DestinationPath { get; }

    /// <summary>Throws the operation's exception when it failed; does nothing when it succeeded.</summary>
    /// <returns>This result, so that a successful read can be chained: <c>result.ThrowIfFailed().Data</c>.</returns>
    /// <exception cref="Exception">The exception recorded in <see cref="Exception"/>, rethrown with its original stack trace.</exception>
    public FileResult ThrowIfFailed()
    {
        if (Exception is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(Exception).Throw();
        }

        return this;
    }

    /// <inheritdoc/>
    public override string ToString() =>
        Succeeded ? $"{Operation} {Path}: {BytesProcessed} bytes" : $"{Operation} {Path}: failed: {Exception!.Message}";

    internal static FileResult Failure(string path, FileOperation operation, Exception exception, string? destinationPath = null) =>
        new(path, operation, ReadOnlyMemory<byte>.Empty, 0, destinationPath, exception);
}
