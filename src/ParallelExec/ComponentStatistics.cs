namespace ParallelExec;

/// <summary>
/// The part every component's statistics share: its name and its ledger. Each component's <c>GetStatistics()</c>
/// returns a sealed type derived from this one with the component's own extras.
/// </summary>
/// <remarks>A statistics object is a snapshot: it never changes after <c>GetStatistics()</c> returns it.</remarks>
public abstract class ComponentStatistics
{
    /// <summary>Initializes the shared part of a snapshot.</summary>
    /// <param name="name">The component's <c>Name</c>.</param>
    /// <param name="ledger">The ledger counters at the moment of the snapshot.</param>
    protected ComponentStatistics(string name, LedgerSnapshot ledger)
    {
        ArgumentNullException.ThrowIfNull(name);
        Name = name;
        Ledger = ledger;
    }

    /// <summary>Gets the component's <c>Name</c>.</summary>
    public string Name { get; }

    /// <summary>Gets where every item handed to the component stood at the moment of the snapshot.</summary>
    public LedgerSnapshot Ledger { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {Ledger}";
}
