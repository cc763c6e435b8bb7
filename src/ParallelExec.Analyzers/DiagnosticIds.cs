namespace ParallelExec.Analyzers;

/// <summary>The identifiers of the diagnostics this package reports; each has a page under <c>docs/analyzers/</c>.</summary>
public static class DiagnosticIds
{
    /// <summary>Independent awaits in sequence.</summary>
    public const string IndependentAwaits = "PEX001";

    /// <summary>An await in a loop over independent items.</summary>
    public const string AwaitInLoop = "PEX002";

    /// <summary>One-by-one calls to a store that has a bulk call.</summary>
    public const string OneByOneStoreCalls = "PEX003";

    /// <summary>Synchronous file I/O in a loop inside async code.</summary>
    public const string SyncFileIOInLoop = "PEX004";
}
