using System.Buffers;
using System.Collections.Generic;
using System.Diagnostics.Metrics;

namespace ParallelExec.Files;

/// <summary>
/// Reads, writes, copies, deletes and processes many files concurrently, with a bound on how many are in flight, and
/// reports one <see cref="FileResult"/> per file, so that one bad file never hides the others.
/// </summary>
/// <remarks>
/// <para>
/// Every method returns an <see cref="IAsyncEnumerable{T}"/> that starts its work when enumerated and yields results in
/// completion order (not input order). At most <see cref="ParallelFilesOptions.MaxDegreeOfParallelism"/> files are
/// worked on at once, and results wait in a small bounded buffer, so memory stays bounded however many paths are given.
/// Stopping the enumeration early, or cancelling its token, stops the remaining work; files not yet started get no result
/// and the enumeration throws <see cref="OperationCanceledException"/> when it was cancelled.
/// </para>
/// <para>
/// Whole-file reads use synchronous file I/O on the bounded workers: on Linux with a warm page cache it measured faster
/// than asynchronous file I/O (see <c>benchmarks/results/FilesReadBenchmarks.md</c>). Writes and copies are atomic by
/// default (temporary file in the same directory, flush, optional fsync, rename). An instance holds no resources and is
/// safe to use from several threads at once.
/// </para>
/// </remarks>
public sealed class ParallelFiles
{
    private static readonly Counter<long> OperationsCounter = Internal.Telemetry.Meter.CreateCounter<long>(
        "parallelexec.files.operations", "{file}", "File operations completed, tagged by operation and outcome.");

    private static readonly Counter<long> BytesCounter = Internal.Telemetry.Meter.CreateCounter<long>(
        "parallelexec.files.bytes", "By", "Bytes read, written or copied, tagged by operation.");

    private static readonly Histogram<double> DurationHistogram = Internal.Telemetry.Meter.CreateHistogram<double>(
        "parallelexec.files.duration", "s", "Duration of one file operation.");

    private readonly ParallelFilesOptions _options;
    private long _succeeded;
    private long _failed;
    private long _bytesRead;
    private long _bytesWritten;

    /// <summary>Initializes a new instance of the <see cref="ParallelFiles"/> class.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults. They are validated and copied.</param>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public ParallelFiles(ParallelFilesOptions? options = null)
    {
        _options = (options ?? new ParallelFilesOptions()).Clone();
        _options.Validate();
    }

    /// <summary>
    /// Lists the files under <paramref name="directory"/> whose names match <paramref name="searchPattern"/>, lazily, for
    /// the other methods of this class to process. Hidden and system files (on Unix, names starting with a dot, which
    /// includes the temporary files of atomic writes in progress) and inaccessible directories are skipped.
    /// </summary>
    /// <param name="directory">The directory to walk.</param>
    /// <param name="searchPattern">A file-name pattern with <c>*</c> and <c>?</c> wildcards, such as <c>*.json</c>.</param>
    /// <param name="recursive"><see langword="true"/> to walk subdirectories too.</param>
    /// <returns>The full paths of the matching files.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> or <paramref name="searchPattern"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    public static IEnumerable<string> EnumerateFiles(string directory, string searchPattern = "*", bool recursive = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(searchPattern);
        return Directory.EnumerateFiles(directory, searchPattern, new EnumerationOptions
        {
            RecurseSubdirectories = recursive,
            IgnoreInaccessible = true,
            MatchType = MatchType.Simple,
        });
    }

    /// <summary>Reads the whole content of each file.</summary>
    /// <param name="paths">The files to read. Enumerated once, lazily, as workers become free.</param>
    /// <param name="cancellationToken">Cancels the remaining reads.</param>
    /// <returns>One result per path, in completion order; <see cref="FileResult.Data"/> holds the content.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> ReadAllAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return BoundedFileRunner.RunAsync(paths, _options.MaxDegreeOfParallelism, ReadOneAsync, cancellationToken);
    }

    /// <summary>Reads every file matching <paramref name="searchPattern"/> under <paramref name="directory"/>.</summary>
    /// <param name="directory">The directory to walk.</param>
    /// <param name="searchPattern">A file-name pattern with <c>*</c> and <c>?</c> wildcards.</param>
    /// <param name="recursive"><see langword="true"/> to walk subdirectories too.</param>
    /// <param name="cancellationToken">Cancels the remaining reads.</param>
    /// <returns>One result per file found, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="directory"/> or <paramref name="searchPattern"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is empty.</exception>
    /// <exception cref="DirectoryNotFoundException"><paramref name="directory"/> does not exist.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> ReadDirectoryAsync(string directory, string searchPattern = "*", bool recursive = true, CancellationToken cancellationToken = default) =>
        ReadAllAsync(EnumerateFiles(directory, searchPattern, recursive), cancellationToken);

    /// <summary>
    /// Streams each file through a pooled buffer of <see cref="ParallelFilesOptions.BufferSize"/> bytes, handing every
    /// chunk to <paramref name="onChunk"/> in file order; no whole-file array is allocated, whatever the file size.
    /// </summary>
    /// <param name="paths">The files to read.</param>
    /// <param name="onChunk">
    /// Called with the path and the next chunk of that file. The chunk's memory is reused after the call returns: copy
    /// what must be kept. Calls for one file are sequential; calls for different files run concurrently.
    /// </param>
    /// <param name="cancellationToken">Cancels the remaining reads.</param>
    /// <returns>One result per path; <see cref="FileResult.BytesProcessed"/> is the file's length. An exception thrown by <paramref name="onChunk"/> fails that file only.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or <paramref name="onChunk"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> ReadChunksAsync(IEnumerable<string> paths, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onChunk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(onChunk);
        return BoundedFileRunner.RunAsync(paths, _options.MaxDegreeOfParallelism, (path, token) => ReadChunksOneAsync(path, onChunk, token), cancellationToken);
    }

    /// <summary>Writes each file's content, atomically unless <see cref="ParallelFilesOptions.AtomicWrites"/> is off.</summary>
    /// <param name="files">The paths and their new content. A missing file is created; an existing one is replaced.</param>
    /// <param name="cancellationToken">Cancels the remaining writes; a write cancelled midway leaves the old content.</param>
    /// <returns>One result per file, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="files"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> WriteAllAsync(IEnumerable<(string Path, ReadOnlyMemory<byte> Content)> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        return BoundedFileRunner.RunAsync(files, _options.MaxDegreeOfParallelism, WriteOneAsync, cancellationToken);
    }

    /// <summary>
    /// Copies each source file to its destination, atomically unless <see cref="ParallelFilesOptions.AtomicWrites"/> is
    /// off. Files larger than <see cref="ParallelFilesOptions.StreamingThreshold"/> stream through pooled buffers.
    /// </summary>
    /// <param name="copies">The source and destination paths. An existing destination is replaced.</param>
    /// <param name="progress">Receives the running total of bytes copied by this call, across all files; optional.</param>
    /// <param name="cancellationToken">Cancels the remaining copies; a copy cancelled midway leaves the old destination.</param>
    /// <returns>One result per copy, in completion order; <see cref="FileResult.Path"/> is the source.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="copies"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> CopyAllAsync(IEnumerable<(string Source, string Destination)> copies, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(copies);
        var tracker = new CopyProgress(progress);
        return BoundedFileRunner.RunAsync(copies, _options.MaxDegreeOfParallelism, (copy, token) => CopyOneAsync(copy, tracker, token), cancellationToken);
    }

    /// <summary>Deletes each file. A file that does not exist counts as deleted.</summary>
    /// <param name="paths">The files to delete.</param>
    /// <param name="cancellationToken">Cancels the remaining deletes.</param>
    /// <returns>One result per path, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> DeleteAllAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return BoundedFileRunner.RunAsync(paths, _options.MaxDegreeOfParallelism, DeleteOneAsync, cancellationToken);
    }

    /// <summary>Runs <paramref name="process"/> on each path, with the same bound and a result per path.</summary>
    /// <param name="paths">The files to process, for example from <see cref="EnumerateFiles"/>.</param>
    /// <param name="process">The work for one file; an exception it throws fails that file only.</param>
    /// <param name="cancellationToken">Cancels the remaining work; passed to <paramref name="process"/>.</param>
    /// <returns>One result per path, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or <paramref name="process"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    public IAsyncEnumerable<FileResult> ProcessAllAsync(IEnumerable<string> paths, Func<string, CancellationToken, ValueTask> process, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(process);
        return BoundedFileRunner.RunAsync(paths, _options.MaxDegreeOfParallelism, (path, token) => ProcessOneAsync(path, process, token), cancellationToken);
    }

    /// <summary>Gets a snapshot of this instance's counters.</summary>
    /// <returns>The counters since the instance was created.</returns>
    public ParallelFilesStatistics GetStatistics() =>
        new(Volatile.Read(ref _succeeded), Volatile.Read(ref _failed), Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesWritten));

    private async ValueTask<FileResult> ReadOneAsync(string path, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            token.ThrowIfCancellationRequested();
            var data = _options.UseAsynchronousReads
                ? await File.ReadAllBytesAsync(path, token).ConfigureAwait(false)
                : File.ReadAllBytes(path);
            Interlocked.Add(ref _bytesRead, data.Length);
            return Completed(new FileResult(path, FileOperation.Read, data, data.Length, null, null), started);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return Completed(FileResult.Failure(path ?? string.Empty, FileOperation.Read, ex), started);
        }
    }

    private async ValueTask<FileResult> ReadChunksOneAsync(string path, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onChunk, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        var buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
        try
        {
            token.ThrowIfCancellationRequested();
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long offset = 0;
            int read;
            while ((read = RandomAccess.Read(handle, buffer.AsSpan(0, _options.BufferSize), offset)) > 0)
            {
                offset += read;
                await onChunk(path, buffer.AsMemory(0, read), token).ConfigureAwait(false);
                token.ThrowIfCancellationRequested();
            }

            Interlocked.Add(ref _bytesRead, offset);
            return Completed(new FileResult(path, FileOperation.Read, ReadOnlyMemory<byte>.Empty, offset, null, null), started);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return Completed(FileResult.Failure(path ?? string.Empty, FileOperation.Read, ex), started);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private ValueTask<FileResult> WriteOneAsync((string Path, ReadOnlyMemory<byte> Content) file, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(file.Path, "path");
            var content = file.Content;
            WriteThroughTarget(file.Path, stream =>
            {
                // Large contents go out in slices so that a cancellation is honoured between them.
                var slice = content.Length > _options.StreamingThreshold ? _options.BufferSize : Math.Max(content.Length, 1);
                for (var offset = 0; offset < content.Length; offset += slice)
                {
                    token.ThrowIfCancellationRequested();
                    stream.Write(content.Span.Slice(offset, Math.Min(slice, content.Length - offset)));
                }
            });
            Interlocked.Add(ref _bytesWritten, content.Length);
            return new(Completed(new FileResult(file.Path, FileOperation.Write, ReadOnlyMemory<byte>.Empty, content.Length, null, null), started));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(Completed(FileResult.Failure(file.Path ?? string.Empty, FileOperation.Write, ex), started));
        }
    }

    private ValueTask<FileResult> CopyOneAsync((string Source, string Destination) copy, CopyProgress progress, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(copy.Source, "source");
            ArgumentException.ThrowIfNullOrEmpty(copy.Destination, "destination");
            using var source = new FileStream(copy.Source, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            var length = source.Length;
            long copied = 0;
            if (length <= _options.StreamingThreshold && _options.WriteStreamWrapper is null)
            {
                // Small file: the operating system's whole-file copy (copy_file_range on Linux) beats a user-space loop.
                source.Dispose();
                copied = CopyWholeFile(copy.Source, copy.Destination);
                progress.Add(copied);
            }
            else
            {
                WriteThroughTarget(copy.Destination, target =>
                {
                    var buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
                    try
                    {
                        int read;
                        while ((read = source.Read(buffer, 0, _options.BufferSize)) > 0)
                        {
                            target.Write(buffer, 0, read);
                            copied += read;
                            progress.Add(read);
                            token.ThrowIfCancellationRequested();
                        }
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                });
            }

            Interlocked.Add(ref _bytesRead, copied);
            Interlocked.Add(ref _bytesWritten, copied);
            return new(Completed(new FileResult(copy.Source, FileOperation.Copy, ReadOnlyMemory<byte>.Empty, copied, copy.Destination, null), started));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(Completed(FileResult.Failure(copy.Source ?? string.Empty, FileOperation.Copy, ex, copy.Destination), started));
        }
    }

    private ValueTask<FileResult> DeleteOneAsync(string path, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(path);
            File.Delete(path);
            return new(Completed(new FileResult(path, FileOperation.Delete, ReadOnlyMemory<byte>.Empty, 0, null, null), started));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(Completed(FileResult.Failure(path ?? string.Empty, FileOperation.Delete, ex), started));
        }
    }

    private async ValueTask<FileResult> ProcessOneAsync(string path, Func<string, CancellationToken, ValueTask> process, CancellationToken token)
    {
        var started = _options.TimeProvider.GetTimestamp();
        try
        {
            token.ThrowIfCancellationRequested();
            await process(path, token).ConfigureAwait(false);
            return Completed(new FileResult(path, FileOperation.Process, ReadOnlyMemory<byte>.Empty, 0, null, null), started);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return Completed(FileResult.Failure(path ?? string.Empty, FileOperation.Process, ex), started);
        }
    }

    /// <summary>
    /// Writes a file through <paramref name="writeContent"/>. Atomic mode: a temporary file in the target's directory (so
    /// the rename stays on one file system and is atomic), flushed (and fsynced on request), then renamed over the
    /// target; on any failure the temporary file is deleted and the target is untouched.
    /// </summary>
    private void WriteThroughTarget(string path, Action<Stream> writeContent)
    {
        var fullPath = Path.GetFullPath(path);
        if (!_options.AtomicWrites)
        {
            using var direct = new FileStream(fullPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            WriteAndFlush(direct, writeContent);
            return;
        }

        var temporary = TemporaryPathFor(fullPath, path);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                WriteAndFlush(stream, writeContent);
            }

            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private long CopyWholeFile(string source, string destination)
    {
        var fullPath = Path.GetFullPath(destination);
        if (!_options.AtomicWrites)
        {
            File.Copy(source, fullPath, overwrite: true);
            FlushToDiskIfAsked(fullPath);
            return new FileInfo(fullPath).Length;
        }

        var temporary = TemporaryPathFor(fullPath, destination);
        try
        {
            File.Copy(source, temporary);
            FlushToDiskIfAsked(temporary);
            var length = new FileInfo(temporary).Length;
            File.Move(temporary, fullPath, overwrite: true);
            return length;
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private void FlushToDiskIfAsked(string path)
    {
        if (_options.FlushToDisk)
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
            stream.Flush(flushToDisk: true);
        }
    }

    private static string TemporaryPathFor(string fullPath, string path)
    {
        var directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"The path '{path}' has no directory.", nameof(path));
        return Path.Combine(directory, "." + Path.GetFileName(fullPath) + "." + Guid.NewGuid().ToString("N") + ".tmp");
    }

    private void WriteAndFlush(FileStream file, Action<Stream> writeContent)
    {
        var target = _options.WriteStreamWrapper?.Invoke(file) ?? file;
        writeContent(target);
        target.Flush();
        if (_options.FlushToDisk)
        {
            file.Flush(flushToDisk: true);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the write already failed and that failure is what the caller must see.
        }
        catch (UnauthorizedAccessException)
        {
            // Same: keep the original failure.
        }
    }

    private static bool IsCancellation(Exception exception, CancellationToken token) =>
        exception is OperationCanceledException && token.IsCancellationRequested;

    private FileResult Completed(FileResult result, long startedTimestamp)
    {
        var elapsed = _options.TimeProvider.GetElapsedTime(startedTimestamp);
        var operation = OperationName(result.Operation);
        var outcome = result.Succeeded ? "succeeded" : "failed";
        Interlocked.Increment(ref result.Succeeded ? ref _succeeded : ref _failed);
        if (OperationsCounter.Enabled)
        {
            OperationsCounter.Add(1, new(TelemetryTagNames.Operation, operation), new(TelemetryTagNames.Outcome, outcome), new(TelemetryTagNames.Name, _options.Name));
        }

        if (BytesCounter.Enabled && result.BytesProcessed > 0)
        {
            BytesCounter.Add(result.BytesProcessed, new(TelemetryTagNames.Operation, operation), new(TelemetryTagNames.Name, _options.Name));
        }

        if (DurationHistogram.Enabled)
        {
            DurationHistogram.Record(elapsed.TotalSeconds, new(TelemetryTagNames.Operation, operation), new(TelemetryTagNames.Outcome, outcome), new(TelemetryTagNames.Name, _options.Name));
        }

        return result;
    }

    private static string OperationName(FileOperation operation) => operation switch
    {
        FileOperation.Read => "read",
        FileOperation.Write => "write",
        FileOperation.Copy => "copy",
        FileOperation.Delete => "delete",
        _ => "process",
    };

    /// <summary>The running byte total of one copy call, reported after every buffer.</summary>
    private sealed class CopyProgress(IProgress<long>? progress)
    {
        private long _total;

        public void Add(long bytes)
        {
            var total = Interlocked.Add(ref _total, bytes);
            progress?.Report(total);
        }
    }
}
