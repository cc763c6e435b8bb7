namespace ParallelExec.Memory;

/// <summary>
/// Options of <see cref="InMemoryStore"/>: the shared <see cref="ComponentOptions"/> (its name, and the clock that
/// decides when entries with a time to live expire); validated and copied when the store is created.
/// </summary>
/// <remarks><see cref="ComponentOptions.DrainTimeout"/> has no effect: every operation of the store completes before it returns, so disposal has nothing to drain.</remarks>
public sealed class InMemoryStoreOptions : ComponentOptions
{
    /// <inheritdoc/>
    protected override string DefaultName => "InMemoryStore";
}
