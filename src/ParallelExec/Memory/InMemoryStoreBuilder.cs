namespace ParallelExec.Memory;

/// <summary>
/// Builds an <see cref="InMemoryStore"/> (<see cref="Exec.MemoryStore"/>): its name, clock and meter factory, through the
/// methods every builder shares. Single use.
/// </summary>
public sealed class InMemoryStoreBuilder : ComponentBuilder<InMemoryStoreBuilder, InMemoryStoreOptions, InMemoryStore>
{
    internal InMemoryStoreBuilder()
        : base(new InMemoryStoreOptions())
    {
    }

    /// <inheritdoc/>
    protected override InMemoryStore Create(InMemoryStoreOptions options) => new(options);
}
