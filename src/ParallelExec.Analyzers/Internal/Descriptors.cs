using Microsoft.CodeAnalysis;

namespace ParallelExec.Analyzers.Internal;

/// <summary>The diagnostic descriptors, in one place so the analyzers and the fixes agree on them.</summary>
internal static class Descriptors
{
    private const string Category = "Performance";
    private const string HelpRoot = "https://github.com/parallelexec/parallelexec/blob/main/docs/analyzers/";

    public static readonly DiagnosticDescriptor IndependentAwaits = new(
        DiagnosticIds.IndependentAwaits,
        title: "Independent awaits run in sequence",
        messageFormat: "These {0} awaits do not use each other's results but run one after another; start them all, then await each",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "Consecutive awaits whose results do not feed each other wait for one operation before starting the next. Starting every operation first and awaiting them afterwards overlaps their waits.",
        helpLinkUri: HelpRoot + DiagnosticIds.IndependentAwaits + ".md");

    public static readonly DiagnosticDescriptor AwaitInLoop = new(
        DiagnosticIds.AwaitInLoop,
        title: "Await in a loop over independent items",
        messageFormat: "Each iteration of this loop awaits work for one item and no iteration depends on another; run the items concurrently with a bound (Exec.ForEachAsync keeps results in input order)",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "A foreach loop that awaits per-item work, with no state carried from one iteration to the next, waits for each item before starting the next one. Running the items with a bounded degree of parallelism overlaps those waits.",
        helpLinkUri: HelpRoot + DiagnosticIds.AwaitInLoop + ".md");

    public static readonly DiagnosticDescriptor OneByOneStoreCalls = new(
        DiagnosticIds.OneByOneStoreCalls,
        title: "One-by-one calls to a store that has a bulk call",
        messageFormat: "'{0}' is awaited once per item of this loop, and '{1}' offers '{2}' that takes them all in one call",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "A loop that awaits a single-item call of a type that also has a bulk sibling (GetAsync and GetManyAsync) pays one round trip per item. The bulk call pays one for all of them.",
        helpLinkUri: HelpRoot + DiagnosticIds.OneByOneStoreCalls + ".md");

    public static readonly DiagnosticDescriptor SyncFileIOInLoop = new(
        DiagnosticIds.SyncFileIOInLoop,
        title: "Synchronous file I/O in a loop inside async code",
        messageFormat: "'File.{0}' blocks a thread for each file of this loop, one file at a time, inside async code; read or write the files concurrently with asynchronous I/O (ParallelExec's ParallelFiles)",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Info,
        isEnabledByDefault: true,
        description: "Synchronous File calls in a loop inside an async method block the calling thread per file and do the files one at a time. ParallelFiles reads, writes and copies many files concurrently with a bound and a result per file.",
        helpLinkUri: HelpRoot + DiagnosticIds.SyncFileIOInLoop + ".md");
}
