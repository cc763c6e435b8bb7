namespace ParallelExec.Internal;

/// <summary>What the shared observable instruments read from a live component.</summary>
internal interface IInstrumentedComponent
{
    /// <summary>Gets the <see cref="TelemetryTagNames.Name"/> tag, created once per instance.</summary>
    KeyValuePair<string, object?> NameTag { get; }

    /// <summary>Reads the ledger counters; cheap, may take the component's lock briefly.</summary>
    /// <returns>The counters now.</returns>
    LedgerSnapshot ReadLedger();
}
