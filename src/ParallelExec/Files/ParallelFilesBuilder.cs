namespace ParallelExec.Files;

/// <summary>
/// Configures and builds a <see cref="ParallelFiles"/>; returned by <see cref="Exec.Files"/>. Single use: after
/// <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/> every further call throws
/// <see cref="InvalidOperationException"/>. Name, clock, drain timeout and meter come from
/// <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}"/>.
/// </summary>
public sealed class ParallelFilesBuilder : ComponentBuilder<ParallelFilesBuilder, ParallelFilesOptions, ParallelFiles>
{
    internal ParallelFilesBuilder()
        : base(new ParallelFilesOptions())
    {
    }

    /// <summary>Sets how many files are worked on at the same time (<see cref="ParallelFilesOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero; checked by <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithMaxDegreeOfParallelism(int maxDegreeOfParallelism) => Set(o => o.MaxDegreeOfParallelism = maxDegreeOfParallelism);

    /// <summary>Sets whether writes and copies are atomic (<see cref="ParallelFilesOptions.AtomicWrites"/>).</summary>
    /// <param name="atomic"><see langword="true"/> for temporary file plus rename.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithAtomicWrites(bool atomic = true) => Set(o => o.AtomicWrites = atomic);

    /// <summary>Sets whether written files are fsynced before they are renamed into place (<see cref="ParallelFilesOptions.FlushToDisk"/>).</summary>
    /// <param name="flushToDisk"><see langword="true"/> to fsync.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithFlushToDisk(bool flushToDisk = true) => Set(o => o.FlushToDisk = flushToDisk);

    /// <summary>Sets the streaming threshold and the pooled buffer size.</summary>
    /// <param name="streamingThreshold">See <see cref="ParallelFilesOptions.StreamingThreshold"/>; zero or greater.</param>
    /// <param name="bufferSize">See <see cref="ParallelFilesOptions.BufferSize"/>; greater than zero.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithStreaming(int streamingThreshold, int bufferSize) => Set(o =>
    {
        o.StreamingThreshold = streamingThreshold;
        o.BufferSize = bufferSize;
    });

    /// <summary>Confines every path to <paramref name="rootDirectory"/> (<see cref="ParallelFilesOptions.RootDirectory"/>).</summary>
    /// <param name="rootDirectory">An existing directory; checked by <see cref="ComponentBuilder{TBuilder, TOptions, TComponent}.Build"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithRoot(string rootDirectory) => Set(o => o.RootDirectory = rootDirectory);

    /// <inheritdoc/>
    protected override ParallelFiles Create(ParallelFilesOptions options) => new(options);
}
