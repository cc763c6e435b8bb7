using System.Diagnostics.Metrics;
using ParallelExec.Internal;
using ParallelExec.Workers;

namespace ParallelExec.Files;

/// <summary>
/// Reads, writes, copies, deletes and processes many files concurrently, with a bound on how many are in flight, and
/// reports one <see cref="FileResult"/> per file, so that one bad file never hides the others.
/// </summary>
/// <remarks>
/// <para>
/// Every method returns an <see cref="IAsyncEnumerable{T}"/> that starts its work when enumerated and yields results in
/// completion order (not input order). At most <see cref="ParallelFilesOptions.MaxDegreeOfParallelism"/> files are
/// worked on at once by an instance, and only a few inputs are taken ahead of the results, so memory stays bounded
/// however many paths are given.
/// Stopping the enumeration early, or cancelling its token, stops the remaining work; files not yet started get no result
/// and the enumeration throws <see cref="OperationCanceledException"/> when it was cancelled.
/// </para>
/// <para>
/// Whole-file reads use synchronous file I/O on the bounded workers: on Linux with a warm page cache it measured faster
/// than asynchronous file I/O (see <c>benchmarks/results/FilesReadBenchmarks.md</c>). Writes and copies are atomic by
/// default (temporary file in the same directory, flush, optional fsync, rename). An instance is safe to use from
/// several threads at once; its batch calls share one <see cref="WorkerPool"/> of
/// <see cref="ParallelFilesOptions.MaxDegreeOfParallelism"/> workers, created on the first call and stopped by
/// <see cref="DisposeAsync"/>.
/// </para>
/// <para>
/// Lifecycle: <see cref="Complete"/> refuses later batch calls, <see cref="Completion"/> ends when the batches started
/// before it have ended, and <see cref="DisposeAsync"/> cancels batches still running after the drain timeout. Telemetry:
/// the standard <c>parallelexec.files.*</c> instruments (a file operation is the item; <c>run.duration</c> is also tagged
/// with the operation), <c>parallelexec.files.bytes</c>, and a <c>parallelexec.files.batch</c> span per batch call.
/// </para>
/// </remarks>
// Locking: _gate guards _ledger, _lifecycle and _batches (the batch calls being enumerated). No user code (file
// callbacks, the caller's enumerable, the time provider, progress, instruments' listeners) runs under it;
// AssertInvariants() checks the ledger under it in Debug builds. _bytesRead and _bytesWritten are updated atomically
// outside it. The worker pool the operations run on is created on the first batch call, under _poolGate.
public sealed partial class ParallelFiles : IExecComponent, IInstrumentedComponent
{
    private readonly ParallelFilesOptions _options;
    private readonly object _gate = new();
    private readonly object _poolGate = new();
    private readonly ItemLedger _ledger = new();
    private readonly Lifecycle _lifecycle = new();
    private readonly WaitList<FileBatch> _batches = new();
    private readonly ItemReporter _reporter;
    private readonly Counter<long> _bytesCounter;
    private readonly RootConfinement? _confinement;
    private WorkerPool? _pool;
    private long _bytesRead;
    private long _bytesWritten;

    /// <summary>Initializes a new instance of the <see cref="ParallelFiles"/> class; <see cref="Exec.Files"/> is the fluent way.</summary>
    /// <param name="options">The options; <see langword="null"/> for the defaults. They are validated and copied.</param>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    public ParallelFiles(ParallelFilesOptions? options = null)
    {
        _options = (options ?? new ParallelFilesOptions()).Clone();
        _options.Validate();
        _confinement = _options.RootDirectory is null ? null : new RootConfinement(_options.RootDirectory);
        _reporter = new ItemReporter(_options.Name, _options.TimeProvider, ComponentInstruments.Get("files", _options.MeterFactory), onDropped: null, onError: null);
        _bytesCounter = _reporter.Instruments.GetExtra("bytes", static meter => meter.CreateCounter<long>(
            "parallelexec.files.bytes", "By", "Bytes read, written or copied, tagged by operation."));
        _reporter.Instruments.Live.Add(this);
    }

    /// <summary>Gets the instance's name (<see cref="ComponentOptions.Name"/>), its tag in metrics and spans.</summary>
    public string Name => _options.Name;

    /// <summary>
    /// Gets a task that completes once <see cref="Complete"/> or <see cref="DisposeAsync"/> has been called and every
    /// batch call started before it has ended (its enumeration finished, was abandoned or was cancelled).
    /// </summary>
    public Task Completion => _lifecycle.Completion;

    /// <inheritdoc/>
    KeyValuePair<string, object?> IInstrumentedComponent.NameTag => _reporter.NameTag;

    /// <summary>
    /// Stops intake: a later batch call (<c>ReadAllAsync</c>, <see cref="WriteAllAsync"/>, ...) throws
    /// <see cref="InvalidOperationException"/>; batches already being enumerated run on. Idempotent.
    /// </summary>
    public void Complete()
    {
        lock (_gate)
        {
            _lifecycle.TryStopIntake();
            CompleteIfDrainedLocked();
        }
    }

    /// <summary>
    /// Stops intake, waits up to <see cref="ComponentOptions.DrainTimeout"/> for the batches being enumerated to end, then
    /// cancels them: each file operation still queued or running is cancelled and counted as dropped with
    /// <see cref="DropReason.DrainTimeout"/>, and those enumerations throw <see cref="OperationCanceledException"/>.
    /// Idempotent: every call returns the same disposal. Called from a callback of this instance's own work
    /// (the <c>ProcessAllAsync</c> callbacks, <see cref="ReadChunksAsync"/>), it starts the disposal and returns at once.
    /// </summary>
    /// <returns>A task that ends when every batch has ended and the workers have stopped.</returns>
    public ValueTask DisposeAsync()
    {
        TaskCompletionSource? first;
        Task disposal;
        lock (_gate)
        {
            disposal = _lifecycle.BeginDisposal(out first);
            CompleteIfDrainedLocked();
        }

        if (first is not null)
        {
            _ = DrainThenStopAsync(first);
        }

        return AmbientComponent<ParallelFiles>.IsInside(this) ? default : new ValueTask(disposal);
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

    /// <summary>
    /// Reads the whole content of each file and hands it to the caller in its result. For work on each file's content
    /// (hashing, parsing), the overload with a <c>process</c> callback is faster: it runs that work on the workers.
    /// </summary>
    /// <param name="paths">The files to read. Enumerated once, lazily, as workers become free.</param>
    /// <param name="cancellationToken">Cancels the remaining reads.</param>
    /// <returns>One result per path, in completion order; <see cref="FileResult.Data"/> holds the content.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> ReadAllAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return RunBatchAsync(paths, FileOperation.Read, ReadOneAsync, cancellationToken);
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> ReadChunksAsync(IEnumerable<string> paths, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> onChunk, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(onChunk);
        return RunBatchAsync(paths, FileOperation.Read, (path, token) => ReadChunksOneAsync(path, onChunk, token), cancellationToken);
    }

    /// <summary>Writes each file's content, atomically unless <see cref="ParallelFilesOptions.AtomicWrites"/> is off.</summary>
    /// <param name="files">The paths and their new content. A missing file is created; an existing one is replaced.</param>
    /// <param name="cancellationToken">Cancels the remaining writes; a write cancelled midway leaves the old content.</param>
    /// <returns>One result per file, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="files"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> WriteAllAsync(IEnumerable<(string Path, ReadOnlyMemory<byte> Content)> files, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(files);
        return RunBatchAsync(files, FileOperation.Write, WriteOneAsync, cancellationToken);
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
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> CopyAllAsync(IEnumerable<(string Source, string Destination)> copies, IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(copies);
        var tracker = new CopyProgress(progress);
        return RunBatchAsync(copies, FileOperation.Copy, (copy, token) => CopyOneAsync(copy, tracker, token), cancellationToken);
    }

    /// <summary>Deletes each file. A file that does not exist counts as deleted.</summary>
    /// <param name="paths">The files to delete.</param>
    /// <param name="cancellationToken">Cancels the remaining deletes.</param>
    /// <returns>One result per path, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> DeleteAllAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        return RunBatchAsync(paths, FileOperation.Delete, DeleteOneAsync, cancellationToken);
    }

    /// <summary>Runs <paramref name="process"/> on each path, with the same bound and a result per path.</summary>
    /// <param name="paths">The files to process, for example from <see cref="EnumerateFiles"/>.</param>
    /// <param name="process">
    /// The work for one file; an exception it throws fails that file only. It receives the path as given, or, with
    /// <see cref="ParallelFilesOptions.RootDirectory"/> set, the resolved full path that was checked to be inside the root.
    /// </param>
    /// <param name="cancellationToken">Cancels the remaining work; passed to <paramref name="process"/>.</param>
    /// <returns>One result per path, in completion order.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or <paramref name="process"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> ProcessAllAsync(IEnumerable<string> paths, Func<string, CancellationToken, ValueTask> process, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(process);
        return RunBatchAsync(paths, FileOperation.Process, (path, token) => ProcessOneAsync(path, process, token), cancellationToken);
    }

    /// <summary>
    /// Reads each file whole and runs <paramref name="process"/> on its content on the same worker, right after the read:
    /// the fast path for per-file work such as hashing or parsing. The work runs on the instance's bounded workers, not
    /// on the thread that enumerates the results, and the content sits in a pooled buffer, so no array is allocated per
    /// file.
    /// </summary>
    /// <param name="paths">The files to read. Enumerated once, lazily, as workers become free.</param>
    /// <param name="process">
    /// The work for one file, called with the path as given and the file's whole content. The content's memory is
    /// reused after the returned task completes: copy what must be kept. An exception it throws fails that file only.
    /// </param>
    /// <param name="cancellationToken">Cancels the remaining work; passed to <paramref name="process"/>.</param>
    /// <returns>
    /// One result per path, in completion order, with <see cref="FileResult.BytesProcessed"/> the file's length; <see cref="FileResult.Data"/> is empty (the content
    /// was handed to <paramref name="process"/>).
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="paths"/> or <paramref name="process"/> is <see langword="null"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (thrown by the enumeration).</exception>
    /// <exception cref="InvalidOperationException"><see cref="Complete"/> was called.</exception>
    /// <exception cref="ObjectDisposedException"><see cref="DisposeAsync"/> was called.</exception>
    public IAsyncEnumerable<FileResult> ReadAllAsync(IEnumerable<string> paths, Func<string, ReadOnlyMemory<byte>, CancellationToken, ValueTask> process, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(process);
        return RunBatchAsync(paths, FileOperation.Read, (path, token) => ReadAndProcessOneAsync(path, process, token), cancellationToken);
    }

    /// <summary>Gets a snapshot of this instance's counters since it was created: its ledger (a file operation is the item) and the bytes moved.</summary>
    /// <returns>The snapshot; the ledger is read atomically.</returns>
    public ParallelFilesStatistics GetStatistics()
    {
        LedgerSnapshot ledger;
        lock (_gate)
        {
            ledger = _ledger.Snapshot();
        }

        return new ParallelFilesStatistics(Name, ledger, Volatile.Read(ref _bytesRead), Volatile.Read(ref _bytesWritten));
    }

    /// <inheritdoc/>
    ComponentStatistics IExecComponent.GetStatistics() => GetStatistics();

}
