namespace ParallelExec.Files;

/// <summary>
/// Options of <see cref="ParallelFiles"/>: the shared <see cref="ComponentOptions"/> (name, clock, drain timeout, meter)
/// and the file adapter's own. They are validated and copied when the instance is created.
/// </summary>
public sealed class ParallelFilesOptions : ComponentOptions
{
    // Upper bounds that keep a typo from exhausting memory: every worker rents a buffer of BufferSize bytes, and the
    // shared worker pool's queue holds twice MaxDegreeOfParallelism inputs. Each is far above any useful value.
    internal const int MaxDegreeOfParallelismLimit = 4096;
    internal const int BufferSizeLimit = 16 * 1024 * 1024;
    /// <summary>Gets or sets how many files an instance works on at the same time, across all its batch calls.</summary>
    /// <value>The default is <see cref="Environment.ProcessorCount"/>; must be between 1 and 4,096.</value>
    public int MaxDegreeOfParallelism { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Gets or sets the size, in bytes, above which a copy streams through pooled buffers of <see cref="BufferSize"/>
    /// bytes (reporting progress per buffer) instead of using the operating system's whole-file copy, and above which a
    /// write is issued in slices of <see cref="BufferSize"/> bytes.
    /// </summary>
    /// <value>The default is 1 MiB (1,048,576); must be zero or greater.</value>
    public int StreamingThreshold { get; set; } = 1024 * 1024;

    /// <summary>Gets or sets the size, in bytes, of the pooled buffers that stream large files and chunked reads.</summary>
    /// <value>The default is 81,920 bytes; must be between 1 and 16 MiB (16,777,216).</value>
    public int BufferSize { get; set; } = 81920;

    /// <summary>
    /// Gets or sets a value indicating whether writes and copies are atomic: the content goes to a temporary file in the
    /// target's directory, which is flushed and then renamed over the target, so a reader sees the old or the new
    /// content, never a mix, and a failure leaves the old content and no temporary file.
    /// </summary>
    /// <value>The default is <see langword="true"/>.</value>
    public bool AtomicWrites { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether every written file is flushed to the storage device (fsync) before it is
    /// renamed into place, so that the new content survives a power loss. Slower; off by default.
    /// </summary>
    /// <value>The default is <see langword="false"/>.</value>
    public bool FlushToDisk { get; set; }

    /// <summary>
    /// Gets or sets the directory every path must stay inside, or <see langword="null"/> for none. When set, a relative
    /// path is taken relative to this directory, and a path that leaves it — through <c>..</c>, as an absolute path
    /// elsewhere, or through a symbolic link (to a file or a directory, anywhere along the path) whose final target is
    /// outside — is refused: that file's <see cref="FileResult"/> fails with a <see cref="PathOutsideRootException"/>
    /// naming the path, and nothing is read, written or deleted. See <c>docs/files.md</c> for what a concurrent change to
    /// the directories can still do between the check and the use.
    /// </summary>
    /// <value>The default is <see langword="null"/> (paths are used as given); when set, must be an existing directory.</value>
    public string? RootDirectory { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether whole-file reads use asynchronous file I/O. Synchronous reads on the
    /// bounded workers measured faster on Linux with a warm page cache (see the Files benchmarks), so they are the default;
    /// this switch exists for the benchmark that keeps that choice honest.
    /// </summary>
    internal bool UseAsynchronousReads { get; set; }

    /// <summary>A test seam: wraps the stream a write or copy goes to, so a test can inject a failure mid-write.</summary>
    internal Func<Stream, Stream>? WriteStreamWrapper { get; set; }

    internal ParallelFilesOptions Clone() => (ParallelFilesOptions)MemberwiseClone();

    /// <inheritdoc/>
    protected override string DefaultName => "ParallelFiles";

    /// <inheritdoc/>
    protected override void AddErrors(OptionsValidator validator)
    {
        base.AddErrors(validator);
        validator
            .Require(MaxDegreeOfParallelism is > 0 and <= MaxDegreeOfParallelismLimit, nameof(MaxDegreeOfParallelism), MaxDegreeOfParallelism, $"must be between 1 and {MaxDegreeOfParallelismLimit}")
            .Require(StreamingThreshold >= 0, nameof(StreamingThreshold), StreamingThreshold, "must be zero or greater")
            .Require(BufferSize is > 0 and <= BufferSizeLimit, nameof(BufferSize), BufferSize, $"must be between 1 and {BufferSizeLimit}")
            .Require(RootDirectory is null || (RootDirectory.Length > 0 && Directory.Exists(RootDirectory)), nameof(RootDirectory), RootDirectory, "must be an existing directory or null");
    }
}
