using System;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace ParallelExec.Analyzers.Internal;

/// <summary>The types the analysis recognises, resolved once per compilation.</summary>
internal sealed class KnownTypes
{
    private KnownTypes(Compilation compilation)
    {
        Task = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task");
        TaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.Task`1");
        ValueTask = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask");
        ValueTaskOfT = compilation.GetTypeByMetadataName("System.Threading.Tasks.ValueTask`1");
        CancellationToken = compilation.GetTypeByMetadataName("System.Threading.CancellationToken");
        File = compilation.GetTypeByMetadataName("System.IO.File");
        HttpClient = compilation.GetTypeByMetadataName("System.Net.Http.HttpClient");
        ListOfT = compilation.GetTypeByMetadataName("System.Collections.Generic.List`1");
        EnumerableOfT = compilation.GetTypeByMetadataName("System.Collections.Generic.IEnumerable`1");
        ReadOnlyCollectionOfT = compilation.GetTypeByMetadataName("System.Collections.Generic.IReadOnlyCollection`1");
        CollectionOfT = compilation.GetTypeByMetadataName("System.Collections.Generic.ICollection`1");
        Exec = compilation.GetTypeByMetadataName("ParallelExec.Exec");
        MemoryStore = compilation.GetTypeByMetadataName("ParallelExec.Memory.IMemoryStore");
    }

    public INamedTypeSymbol? Task { get; }

    public INamedTypeSymbol? TaskOfT { get; }

    public INamedTypeSymbol? ValueTask { get; }

    public INamedTypeSymbol? ValueTaskOfT { get; }

    public INamedTypeSymbol? CancellationToken { get; }

    public INamedTypeSymbol? File { get; }

    public INamedTypeSymbol? HttpClient { get; }

    public INamedTypeSymbol? ListOfT { get; }

    public INamedTypeSymbol? EnumerableOfT { get; }

    public INamedTypeSymbol? ReadOnlyCollectionOfT { get; }

    public INamedTypeSymbol? CollectionOfT { get; }

    /// <summary><c>ParallelExec.Exec</c>, when the compilation references ParallelExec.</summary>
    public INamedTypeSymbol? Exec { get; }

    /// <summary><c>ParallelExec.Memory.IMemoryStore</c>, when the compilation references ParallelExec.</summary>
    public INamedTypeSymbol? MemoryStore { get; }

    public static KnownTypes From(Compilation compilation) => new(compilation);

    /// <summary>Task, Task&lt;T&gt;, ValueTask or ValueTask&lt;T&gt;: an awaitable whose await the fixes can move.</summary>
    public bool IsTaskLike(ITypeSymbol? type)
    {
        if (type is not INamedTypeSymbol named)
        {
            return false;
        }

        var original = named.OriginalDefinition;
        return Same(original, Task) || Same(original, TaskOfT) || Same(original, ValueTask) || Same(original, ValueTaskOfT);
    }

    /// <summary>Whether <paramref name="type"/> is <paramref name="candidate"/> or implements or derives from it.</summary>
    public static bool IsOrInherits(ITypeSymbol? type, INamedTypeSymbol? candidate)
    {
        if (type is null || candidate is null)
        {
            return false;
        }

        for (var current = type; current is not null; current = current.BaseType)
        {
            if (Same(current.OriginalDefinition, candidate))
            {
                return true;
            }
        }

        foreach (var implemented in type.AllInterfaces)
        {
            if (Same(implemented.OriginalDefinition, candidate))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether one object of this type may serve several calls at once, in any order: <c>HttpClient</c> and
    /// ParallelExec's <c>IMemoryStore</c>. (Being thread-safe is not enough: a bus is, but the order of its publishes shows.)
    /// </summary>
    public bool IsSafeForConcurrentCalls(ITypeSymbol? type) =>
        type is not null && (IsOrInherits(type, HttpClient) || IsOrInherits(type, MemoryStore));

    /// <summary>
    /// Whether a method's name says it changes something (<c>SaveAsync</c>, <c>PublishAsync</c>, <c>SetManyAsync</c>):
    /// such calls are presumed ordered on purpose (save, then announce), whatever they return.
    /// </summary>
    public static bool IsEffectName(string name) =>
        EffectVerbs.Any(verb => name.StartsWith(verb, StringComparison.Ordinal)
            && (name.Length == verb.Length || char.IsUpper(name[verb.Length]) || char.IsDigit(name[verb.Length])));

    /// <summary>
    /// Whether a method's name says it puts something into an ordered sink (<c>PublishAsync</c> on a bus,
    /// <c>EnqueueAsync</c>, <c>AppendAsync</c> to a log, <c>PostAsync</c> to a queue): called for each item on one shared
    /// object, the order of the items is what the sink's readers see.
    /// </summary>
    public static bool IsOrderedSinkName(string name) =>
        OrderedSinkVerbs.Any(verb => name.StartsWith(verb, StringComparison.Ordinal)
            && (name.Length == verb.Length || char.IsUpper(name[verb.Length]) || char.IsDigit(name[verb.Length])));

    private static readonly string[] OrderedSinkVerbs = { "Publish", "Enqueue", "Push", "Append", "Write", "Post", "Produce", "Emit", "Broadcast" };

    private static readonly string[] EffectVerbs =
    {
        "Set", "Put", "Write", "Update", "Upsert", "Insert", "Delete", "Remove", "Save", "Add", "Append", "Increment",
        "Decrement", "Publish", "Send", "Post", "Enqueue", "Push", "Submit", "Create", "Commit", "Acquire", "Release",
        "Lock", "Unlock", "Clear", "Reset", "Flush",
    };

    /// <summary>Lifecycle calls, ordered on purpose (start this, then that; dispose the outer, then the inner).</summary>
    private static readonly string[] LifecycleNames =
    {
        "Dispose", "DisposeAsync", "Close", "CloseAsync", "Start", "StartAsync", "Stop", "StopAsync", "Shutdown",
        "ShutdownAsync", "Flush", "FlushAsync", "Complete", "CompleteAsync",
    };

    /// <summary>
    /// Whether calls of this method are ordering-sensitive by nature, so that running two of them at once, or several of
    /// them for many items, could change what the program does: synchronization and timing (<c>System.Threading</c>,
    /// <c>Task.Delay</c>, semaphores, channels), streams, readers and writers, files and the console (<c>System.IO</c>,
    /// <c>System.Console</c>), sockets, database connections and commands (<c>System.Data</c>, <c>Microsoft.Data</c>)
    /// and Entity Framework contexts, which allow one operation at a time; and lifecycle calls (start, stop, flush,
    /// dispose), whose order is the point.
    /// </summary>
    public static bool IsOrderingSensitive(IMethodSymbol method, ITypeSymbol? receiverType)
    {
        return System.Array.IndexOf(LifecycleNames, method.Name) >= 0
            || IsOrderingSensitiveType(method.ContainingType) || IsOrderingSensitiveType(receiverType);
    }

    private static bool IsOrderingSensitiveType(ITypeSymbol? type)
    {
        for (var current = type; current is not null; current = current.BaseType)
        {
            var ns = current.ContainingNamespace?.ToDisplayString() ?? string.Empty;
            if (InNamespace(ns, "System.Threading") || InNamespace(ns, "System.IO") || InNamespace(ns, "System.Data")
                || InNamespace(ns, "Microsoft.Data") || InNamespace(ns, "System.Net.Sockets") || InNamespace(ns, "System.Net.WebSockets")
                || InNamespace(ns, "Microsoft.EntityFrameworkCore") || InNamespace(ns, "System.Diagnostics"))
            {
                return true;
            }

            if (current.Name == "Console" && ns == "System")
            {
                return true;
            }

            if (current.Name.EndsWith("DbContext", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static bool InNamespace(string ns, string root) =>
        ns == root || ns.StartsWith(root + ".", StringComparison.Ordinal);

    private static bool Same(ISymbol? a, ISymbol? b) => b is not null && SymbolEqualityComparer.Default.Equals(a, b);
}
