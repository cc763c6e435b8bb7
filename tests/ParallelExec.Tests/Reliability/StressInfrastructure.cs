using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Xunit.Abstractions;

namespace ParallelExec.Tests.Reliability;

/// <summary>
/// The stress classes share one collection that runs without parallelism: the unobserved-exception handler is
/// process-wide, and the item counts are sized for the whole machine rather than a slice of it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class StressCollection
{
    /// <summary>The collection name.</summary>
    public const string Name = "Reliability stress";
}

/// <summary>The fault every stress handler injects; its marker lets the unobserved-exception check ignore other tests.</summary>
public sealed class InjectedFaultException(int itemId) : Exception($"{Marker} injected fault for item {itemId}")
{
    /// <summary>The text every injected fault carries.</summary>
    public const string Marker = "[reliability-stress]";

    /// <summary>The item the fault was injected for.</summary>
    public int ItemId { get; } = itemId;
}

/// <summary>How one item ended, seen from its submitter.</summary>
public enum Outcome
{
    /// <summary>The handler's result reached the caller.</summary>
    Succeeded,
    /// <summary>The handler's exception reached the caller.</summary>
    Failed,
    /// <summary>The caller's cancellation won.</summary>
    Cancelled,
    /// <summary>The queue policy or a dispose deadline dropped the item.</summary>
    Dropped,
    /// <summary>The component was disposed before it accepted the item.</summary>
    Refused,
}

/// <summary>
/// The ledger of one stress run: each item id must end exactly once, and the handler side records what it saw so the
/// outcome can be cross-checked (a dropped item never ran, a succeeded item ran to completion exactly once).
/// </summary>
public sealed class Ledger
{
    private readonly ConcurrentDictionary<int, Outcome> _outcomes = new();
    private readonly ConcurrentDictionary<int, int> _started = new();
    private readonly ConcurrentDictionary<int, int> _completed = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private int _faultsInjected;

    /// <summary>Items expected.</summary>
    public int Expected { get; }

    /// <summary>Creates a ledger for <paramref name="expected"/> items.</summary>
    public Ledger(int expected) => Expected = expected;

    /// <summary>Faults injected by handlers.</summary>
    public int FaultsInjected => Volatile.Read(ref _faultsInjected);

    /// <summary>Records that the handler started on <paramref name="id"/>.</summary>
    public void Started(int id)
    {
        if (_started.AddOrUpdate(id, 1, (_, n) => n + 1) > 1)
        {
            _violations.Enqueue($"item {id} started more than once");
        }
    }

    /// <summary>Records that a handler saw <paramref name="id"/> (components that may retry a group, such as a bisecting batch).</summary>
    public void Saw(int id) => _started.TryAdd(id, 1);

    /// <summary>Records that the handler completed <paramref name="id"/> successfully.</summary>
    public void Completed(int id) => _completed.AddOrUpdate(id, 1, (_, n) => n + 1);

    /// <summary>Throws an injected fault for <paramref name="id"/> and counts it.</summary>
    public InjectedFaultException Fault(int id)
    {
        Interlocked.Increment(ref _faultsInjected);
        return new InjectedFaultException(id);
    }

    /// <summary>Records the submitter's view of how <paramref name="id"/> ended.</summary>
    public void End(int id, Outcome outcome)
    {
        if (!_outcomes.TryAdd(id, outcome))
        {
            _violations.Enqueue($"item {id} ended twice: {_outcomes[id]} then {outcome}");
        }
    }

    /// <summary>Classifies the exception a submitter observed and records it.</summary>
    public void EndWith(int id, Exception exception)
    {
        Outcome outcome = exception switch
        {
            InjectedFaultException => Outcome.Failed,
            ItemDroppedException => Outcome.Dropped,
            ObjectDisposedException => Outcome.Refused,
            OperationCanceledException => Outcome.Cancelled,
            _ when Unwrap(exception) is InjectedFaultException => Outcome.Failed,
            _ => throw new InvalidOperationException($"item {id} ended with an unexpected exception", exception),
        };
        End(id, outcome);
    }

    private static Exception? Unwrap(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is InjectedFaultException)
            {
                return e;
            }
        }

        return null;
    }

    /// <summary>Count of items with <paramref name="outcome"/>.</summary>
    public int Count(Outcome outcome) => _outcomes.Values.Count(o => o == outcome);

    /// <summary>Items that never ended.</summary>
    public int Unaccounted => Enumerable.Range(0, Expected).Count(id => !_outcomes.ContainsKey(id));

    /// <summary>True when <paramref name="id"/> has not ended.</summary>
    public bool Unended(int id) => !_outcomes.ContainsKey(id);

    /// <summary>True when the handler started <paramref name="id"/>.</summary>
    public bool HasStarted(int id) => _started.ContainsKey(id);

    /// <summary>
    /// Checks every rule; <paramref name="droppedNeverRan"/> is false for components that may drop an item after its handler
    /// started (a dispose deadline that abandons running work).
    /// </summary>
    public void AssertConsistent(string context, bool droppedNeverRan = true)
    {
        var problems = new List<string>(_violations);
        foreach (int id in Enumerable.Range(0, Expected))
        {
            if (!_outcomes.TryGetValue(id, out Outcome outcome))
            {
                problems.Add($"item {id} never ended");
                continue;
            }

            _completed.TryGetValue(id, out int completions);
            bool started = _started.ContainsKey(id);
            switch (outcome)
            {
                case Outcome.Succeeded when completions != 1:
                    problems.Add($"item {id} succeeded but the handler completed it {completions} times");
                    break;
                case Outcome.Failed when !started:
                    problems.Add($"item {id} failed without its handler starting");
                    break;
                case Outcome.Dropped or Outcome.Refused when droppedNeverRan && started:
                    problems.Add($"item {id} was {outcome} but its handler ran");
                    break;
            }
        }

        Assert.True(problems.Count == 0, $"{context}: {problems.Count} ledger violations, first: {string.Join("; ", problems.Take(10))}");
    }

    /// <summary>One line for the run summary.</summary>
    public string Summary() =>
        $"items={Expected} succeeded={Count(Outcome.Succeeded)} failed={Count(Outcome.Failed)} cancelled={Count(Outcome.Cancelled)} " +
        $"dropped={Count(Outcome.Dropped)} refused={Count(Outcome.Refused)} faultsInjected={FaultsInjected} unaccounted={Unaccounted}";
}

/// <summary>Sizes and seeds for the stress runs: CI budget by default, a soak when PARALLELEXEC_SOAK=1.</summary>
public static class StressProfile
{
    /// <summary>True when the long soak was requested.</summary>
    public static bool Soak { get; } = Environment.GetEnvironmentVariable("PARALLELEXEC_SOAK") == "1";

    /// <summary>Rounds (each with its own seed) per component.</summary>
    public static int Rounds => Soak ? 40 : 8;

    /// <summary>Items per round.</summary>
    public static int Items => Soak ? 20_000 : 8_000;

    /// <summary>The seed of round <paramref name="round"/>; fixed, or taken from PARALLELEXEC_SEED to replay a failure.</summary>
    public static int Seed(int round, [CallerMemberName] string test = "")
    {
        string? forced = Environment.GetEnvironmentVariable("PARALLELEXEC_SEED");
        return forced is not null ? int.Parse(forced, System.Globalization.CultureInfo.InvariantCulture) : 7919 * (round + 1) + test.Length;
    }
}

/// <summary>
/// Records unobserved task exceptions raised by injected faults during a stress test. Other tests' leftovers are ignored
/// by the marker check; the collection runs alone so its own leftovers are attributed to it.
/// </summary>
public sealed class UnobservedExceptionMonitor : IDisposable
{
    private readonly ConcurrentQueue<Exception> _seen = new();

    /// <summary>Starts listening.</summary>
    public UnobservedExceptionMonitor() => TaskScheduler.UnobservedTaskException += OnUnobserved;

    private void OnUnobserved(object? sender, UnobservedTaskExceptionEventArgs e)
    {
        if (e.Exception.ToString().Contains(InjectedFaultException.Marker, StringComparison.Ordinal))
        {
            _seen.Enqueue(e.Exception);
        }
    }

    /// <summary>Forces the finalizers that raise the event, then asserts nothing of ours was unobserved.</summary>
    public int CollectAndAssertNone(string context)
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.True(_seen.IsEmpty, $"{context}: {_seen.Count} unobserved task exceptions, first: {_seen.FirstOrDefault()}");
        return _seen.Count;
    }

    /// <inheritdoc/>
    public void Dispose() => TaskScheduler.UnobservedTaskException -= OnUnobserved;
}

/// <summary>Writes the one-line summaries RELIABILITY.md quotes.</summary>
public static class StressReport
{
    /// <summary>Writes "STRESS component: ..." to the test output.</summary>
    public static void Write(ITestOutputHelper output, string component, string line) =>
        output.WriteLine($"STRESS {component}: {line}");
}

/// <summary>Small pieces every stress producer uses, so the classes differ only in what they stress.</summary>
public static class StressDraw
{
    /// <summary>
    /// Draws the token an item is submitted with: about 3% already cancelled, 3% cancelled within 0-2 ms, the rest
    /// none. The sources go to <paramref name="sources"/> so the test disposes them at the end. The draws from
    /// <paramref name="random"/> are the same for a given seed, so a printed seed replays the schedule.
    /// </summary>
    public static CancellationToken Cancellation(Random random, ConcurrentBag<CancellationTokenSource> sources)
    {
        int action = random.Next(100);
        if (action >= 6)
        {
            return default;
        }

        var cts = new CancellationTokenSource();
        sources.Add(cts);
        if (action < 3)
        {
            cts.Cancel();
        }
        else
        {
            cts.CancelAfter(random.Next(0, 3));
        }

        return cts.Token;
    }

    /// <summary>Raises <paramref name="target"/> to <paramref name="value"/> if it is larger, atomically.</summary>
    public static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
