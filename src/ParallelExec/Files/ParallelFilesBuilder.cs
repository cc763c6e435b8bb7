namespace ParallelExec.Files;

/// <summary>
/// Configures and builds a <see cref="ParallelFiles"/>; returned by <see cref="Exec.Files"/>. Single use: after
/// <see cref="Build"/> every further call throws <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class ParallelFilesBuilder
{
    private readonly ParallelFilesOptions _options = new();
    private bool _built;

    internal ParallelFilesBuilder()
    {
    }

    /// <summary>Sets how many files are worked on at the same time (<see cref="ParallelFilesOptions.MaxDegreeOfParallelism"/>).</summary>
    /// <param name="maxDegreeOfParallelism">Greater than zero; checked by <see cref="Build"/>.</param>
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

    /// <summary>Sets the name that tags the instance's metrics (<see cref="ParallelFilesOptions.Name"/>).</summary>
    /// <param name="name">The name.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithName(string? name) => Set(o => o.Name = name);

    /// <summary>Sets the time source used to measure durations (<see cref="ParallelFilesOptions.TimeProvider"/>).</summary>
    /// <param name="timeProvider">The time source.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFilesBuilder WithTimeProvider(TimeProvider timeProvider) => Set(o => o.TimeProvider = timeProvider);

    /// <summary>Validates the options and builds the instance.</summary>
    /// <returns>The new <see cref="ParallelFiles"/>.</returns>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists every one.</exception>
    /// <exception cref="InvalidOperationException">The builder has already built.</exception>
    public ParallelFiles Build()
    {
        ThrowIfBuilt();
        _built = true;
        return new ParallelFiles(_options);
    }

    private ParallelFilesBuilder Set(Action<ParallelFilesOptions> change)
    {
        ThrowIfBuilt();
        change(_options);
        return this;
    }

    private void ThrowIfBuilt()
    {
        if (_built)
        {
            throw new InvalidOperationException("This ParallelFilesBuilder has already built; builders are single use.");
        }
    }
}
