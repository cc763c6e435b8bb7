using System.Buffers;
using ParallelExec.Internal;

namespace ParallelExec.Files;

/// <content>
/// The file operations themselves, one file each: they never throw for a bad file (the failure goes into its
/// <see cref="FileResult"/>), only for the cancellation of their token. Atomic writes and copies go through a temporary
/// file in the target's directory and a rename.
/// </content>
public sealed partial class ParallelFiles
{
    /// <summary>
    /// Marks the rest of this operation's async flow as this instance's own work before a user callback runs, so that a
    /// <see cref="DisposeAsync"/> it calls does not wait for the very operation that called it. Scoped to the calling
    /// async method: the change is undone when it returns.
    /// </summary>
    private void EnterUserCallback() => AmbientComponent<ParallelFiles>.Current = this;

    /// <summary>
    /// The path an operation uses: as given without <see cref="ParallelFilesOptions.RootDirectory"/>; with it, the
    /// resolved full path inside the root, or a <see cref="PathOutsideRootException"/> that fails this file only.
    /// </summary>
    private string Confine(string path, bool followLast = true) => _confinement is null ? path : _confinement.Check(path, followLast);

    private async ValueTask<FileResult> ReadOneAsync(string path, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            var target = Confine(path);
            var data = _options.UseAsynchronousReads
                ? await File.ReadAllBytesAsync(target, token).ConfigureAwait(false)
                : File.ReadAllBytes(target);
            Interlocked.Add(ref _bytesRead, data.Length);
            return new FileResult(path, FileOperation.Read, data, data.Length, null, null);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return FileResult.Failure(path ?? string.Empty, FileOperation.Read, ex);
        }
    }

    private async ValueTask<FileResult> ReadChunksOneAsync(string path, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onChunk, CancellationToken token)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(_options.BufferSize);
        try
        {
            token.ThrowIfCancellationRequested();
            EnterUserCallback();
            using var handle = File.OpenHandle(Confine(path), FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.SequentialScan);
            long offset = 0;
            int read;
            while ((read = RandomAccess.Read(handle, buffer.AsSpan(0, _options.BufferSize), offset)) > 0)
            {
                offset += read;
                await onChunk(path, buffer.AsMemory(0, read), token).ConfigureAwait(false);
                token.ThrowIfCancellationRequested();
            }

            Interlocked.Add(ref _bytesRead, offset);
            return new FileResult(path, FileOperation.Read, ReadOnlyMemory<byte>.Empty, offset, null, null);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return FileResult.Failure(path ?? string.Empty, FileOperation.Read, ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private ValueTask<FileResult> WriteOneAsync((string Path, ReadOnlyMemory<byte> Content) file, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(file.Path, "path");
            var content = file.Content;
            WriteThroughTarget(Confine(file.Path), stream =>
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
            return new(new FileResult(file.Path, FileOperation.Write, ReadOnlyMemory<byte>.Empty, content.Length, null, null));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(FileResult.Failure(file.Path ?? string.Empty, FileOperation.Write, ex));
        }
    }

    private ValueTask<FileResult> CopyOneAsync((string Source, string Destination) copy, CopyProgress progress, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(copy.Source, "source");
            ArgumentException.ThrowIfNullOrEmpty(copy.Destination, "destination");
            var sourcePath = Confine(copy.Source);
            var destinationPath = Confine(copy.Destination);
            using var source = new FileStream(sourcePath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
            var length = source.Length;
            long copied = 0;
            if (length <= _options.StreamingThreshold && _options.WriteStreamWrapper is null)
            {
                // Small file: the operating system's whole-file copy (copy_file_range on Linux) beats a user-space loop.
                source.Dispose();
                copied = CopyWholeFile(sourcePath, destinationPath);
                progress.Add(copied);
            }
            else
            {
                WriteThroughTarget(destinationPath, target =>
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
            return new(new FileResult(copy.Source, FileOperation.Copy, ReadOnlyMemory<byte>.Empty, copied, copy.Destination, null));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(FileResult.Failure(copy.Source ?? string.Empty, FileOperation.Copy, ex, copy.Destination));
        }
    }

    private ValueTask<FileResult> DeleteOneAsync(string path, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            ArgumentException.ThrowIfNullOrEmpty(path);
            File.Delete(Confine(path, followLast: false));
            return new(new FileResult(path, FileOperation.Delete, ReadOnlyMemory<byte>.Empty, 0, null, null));
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return new(FileResult.Failure(path ?? string.Empty, FileOperation.Delete, ex));
        }
    }

    private async ValueTask<FileResult> ProcessOneAsync(string path, Func<string, CancellationToken, ValueTask> process, CancellationToken token)
    {
        try
        {
            token.ThrowIfCancellationRequested();
            var target = Confine(path);
            EnterUserCallback();
            await process(target, token).ConfigureAwait(false);
            return new FileResult(path, FileOperation.Process, ReadOnlyMemory<byte>.Empty, 0, null, null);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return FileResult.Failure(path ?? string.Empty, FileOperation.Process, ex);
        }
    }

    private async ValueTask<FileResult> ReadAndProcessOneAsync(string path, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> process, CancellationToken token)
    {
        byte[]? buffer = null;
        try
        {
            token.ThrowIfCancellationRequested();
            int length;
            using (var handle = File.OpenHandle(Confine(path), FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                var fileLength = RandomAccess.GetLength(handle);
                if (fileLength > Array.MaxLength)
                {
                    throw new IOException($"The file '{path}' has {fileLength} bytes, more than one buffer holds: read it with ReadChunksAsync.");
                }

                // Synchronous reads on the bounded workers (see the class remarks); the length read at open is what is
                // handed over, so a file that grows meanwhile is read up to the length it had.
                buffer = ArrayPool<byte>.Shared.Rent((int)Math.Max(fileLength, 1));
                length = 0;
                int read;
                while (length < fileLength && (read = RandomAccess.Read(handle, buffer.AsSpan(length, (int)fileLength - length), length)) > 0)
                {
                    length += read;
                }
            }

            Interlocked.Add(ref _bytesRead, length);
            EnterUserCallback();
            await process(path, buffer.AsMemory(0, length), token).ConfigureAwait(false);
            return new FileResult(path, FileOperation.Read, ReadOnlyMemory<byte>.Empty, length, null, null);
        }
        catch (Exception ex) when (!IsCancellation(ex, token))
        {
            return FileResult.Failure(path ?? string.Empty, FileOperation.Read, ex);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
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
