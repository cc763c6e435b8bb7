using System.Collections.Concurrent;

namespace ParallelExec.Tests.Reliability;

/// <summary>How one item ended, seen from its submitter.</summary>
public enum Outcome : byte
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
/// outcome can be cross-checked (a dropped item never ran, a succeeded item ran to completion exactly once, a cancelled
/// item had its cancellation requested and, where the component reports cancellations, was reported as cancelled).
/// </summary>
/// <remarks>
/// Plain arrays indexed by item id, updated with interlocked operations: a round holds 10^5 items and more, so the
/// ledger must cost a few bytes and nanoseconds per item (no dictionaries, no per-item strings). Violations are rare
/// and kept as text.
/// </remarks>
public sealed class Ledger
{
    // 0: not ended; otherwise (byte)outcome + 1.
    private readonly int[] _outcomes;
    private readonly int[] _started;
    private readonly int[] _completed;
    private readonly int[] _reportedCancelled;
    private readonly int[] _cutWhileRunning;
    private readonly CancellationTokenSource?[] _sources;
    private readonly ConcurrentQueue<string> _violations = new();
    private int _faultsInjected;
    private bool _allCancelRequested;

    /// <summary>Creates a ledger for <paramref name="expected"/> items.</summary>
    public Ledger(int expected)
    {
        Expected = expected;
        _outcomes = new int[expected];
        _started = new int[expected];
        _completed = new int[expected];
        _reportedCancelled = new int[expected];
        _cutWhileRunning = new int[expected];
        _sources = new CancellationTokenSource?[expected];
    }

    /// <summary>Items expected.</summary>
    public int Expected { get; }

    /// <summary>Faults injected by handlers.</summary>
    public int FaultsInjected => Volatile.Read(ref _faultsInjected);

    /// <summary>Cancelled items whose cancellation was checked against the caller's token and the component's report.</summary>
    public int CancelledCrossChecked { get; private set; }

    /// <summary>Records that the handler started on <paramref name="id"/>.</summary>
    public void Started(int id)
    {
        if (Interlocked.Increment(ref _started[id]) > 1)
        {
            _violations.Enqueue($"item {id} started more than once");
        }
    }

    /// <summary>Records that a handler saw <paramref name="id"/> (components that may retry a group, such as a bisecting batch).</summary>
    public void Saw(int id) => Interlocked.CompareExchange(ref _started[id], 1, 0);

    /// <summary>Records that the handler completed <paramref name="id"/> successfully.</summary>
    public void Completed(int id) => Interlocked.Increment(ref _completed[id]);

    /// <summary>Throws an injected fault for <paramref name="id"/> and counts it.</summary>
    public InjectedFaultException Fault(int id)
    {
        Interlocked.Increment(ref _faultsInjected);
        return new InjectedFaultException(id);
    }

    /// <summary>
    /// The token item <paramref name="id"/> is submitted with, per its drawn cancellation; the source stays with the
    /// ledger, which reads it when it checks a cancelled item and disposes it in <see cref="DisposeSources"/>.
    /// </summary>
    public CancellationToken Token(int id, CancelKind kind, int delayMs)
    {
        if (kind == CancelKind.None)
        {
            return default;
        }

        var cts = new CancellationTokenSource();
        _sources[id] = cts;
        if (kind == CancelKind.Before)
        {
            cts.Cancel();
        }
        else if (kind == CancelKind.AfterDelay)
        {
            cts.CancelAfter(delayMs);
        }

        return cts.Token;
    }

    /// <summary>Makes the items <paramref name="id"/>+1 .. <paramref name="id"/>+<paramref name="others"/> share the token of <paramref name="id"/> (one call carrying several items).</summary>
    public void ShareToken(int id, int others)
    {
        for (int i = 1; i <= others; i++)
        {
            _sources[id + i] = _sources[id];
        }
    }

    /// <summary>Cancels the token of <paramref name="id"/> now (<see cref="CancelKind.AfterSubmit"/>).</summary>
    public Task CancelNowAsync(int id) => _sources[id]?.CancelAsync() ?? Task.CompletedTask;

    /// <summary>Records that a cancellation covering every item was requested (a whole graph run cancelled).</summary>
    public void CancelRequestedForAll() => Volatile.Write(ref _allCancelRequested, true);

    /// <summary>Records that the component reported <paramref name="id"/> as cancelled (OnDropped with <see cref="DropReason.Cancelled"/>).</summary>
    public void ReportedCancelled(int id)
    {
        if (Interlocked.Increment(ref _reportedCancelled[id]) > 1)
        {
            _violations.Enqueue($"item {id} reported cancelled more than once");
        }
    }

    /// <summary>Whether the component reported <paramref name="id"/> as cancelled.</summary>
    public bool WasReportedCancelled(int id) => Volatile.Read(ref _reportedCancelled[id]) > 0;

    /// <summary>Records the submitter's view of how <paramref name="id"/> ended.</summary>
    public void End(int id, Outcome outcome)
    {
        int previous = Interlocked.CompareExchange(ref _outcomes[id], (int)outcome + 1, 0);
        if (previous != 0)
        {
            _violations.Enqueue($"item {id} ended twice: {(Outcome)(previous - 1)} then {outcome}");
        }
    }

    /// <summary>
    /// Records that <paramref name="id"/> was dropped by the component's drain timeout while its handler ran (the
    /// documented way a disposal ends running work): the one case where a dropped item may have started.
    /// </summary>
    public void EndCutWhileRunning(int id)
    {
        Volatile.Write(ref _cutWhileRunning[id], 1);
        End(id, Outcome.Dropped);
    }

    /// <summary>Records <paramref name="outcome"/> for <paramref name="id"/> unless it already ended; returns whether it did now.</summary>
    public bool EndIfUnended(int id, Outcome outcome) => Interlocked.CompareExchange(ref _outcomes[id], (int)outcome + 1, 0) == 0;

    /// <summary>Classifies the exception a submitter observed and records it.</summary>
    public void EndWith(int id, Exception exception) => End(id, Classify(id, exception));

    /// <summary>The outcome an exception a submitter observed stands for.</summary>
    public static Outcome Classify(int id, Exception exception) => exception switch
    {
        InjectedFaultException => Outcome.Failed,
        ItemDroppedException => Outcome.Dropped,
        ObjectDisposedException => Outcome.Refused,
        OperationCanceledException => Outcome.Cancelled,
        _ when Unwrap(exception) is InjectedFaultException => Outcome.Failed,
        _ => throw new InvalidOperationException($"item {id} ended with an unexpected exception", exception),
    };

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
    public int Count(Outcome outcome)
    {
        int value = (int)outcome + 1, count = 0;
        foreach (int o in _outcomes)
        {
            count += o == value ? 1 : 0;
        }

        return count;
    }

    /// <summary>Items that never ended.</summary>
    public int Unaccounted => Count0();

    private int Count0()
    {
        int count = 0;
        foreach (int o in _outcomes)
        {
            count += o == 0 ? 1 : 0;
        }

        return count;
    }

    /// <summary>How <paramref name="id"/> ended, or null while it has not.</summary>
    public Outcome? OutcomeOf(int id) => Volatile.Read(ref _outcomes[id]) is var raw and > 0 ? (Outcome)(raw - 1) : null;

    /// <summary>True when <paramref name="id"/> has not ended.</summary>
    public bool Unended(int id) => Volatile.Read(ref _outcomes[id]) == 0;

    /// <summary>True when the handler started <paramref name="id"/>.</summary>
    public bool HasStarted(int id) => Volatile.Read(ref _started[id]) > 0;

    /// <summary>True when a cancellation of <paramref name="id"/> was requested (its token, or the whole run's).</summary>
    public bool CancelRequested(int id) => Volatile.Read(ref _allCancelRequested) || _sources[id]?.IsCancellationRequested == true;

    /// <summary>Disposes the items' cancellation sources (their state stays readable for the checks).</summary>
    public void DisposeSources()
    {
        foreach (CancellationTokenSource? source in _sources)
        {
            source?.Dispose();
        }
    }

    /// <summary>
    /// Checks every rule; <paramref name="droppedNeverRan"/> is false for components that may drop an item after its handler
    /// started (a dispose deadline that abandons running work). Every item that ended cancelled must have had its
    /// cancellation requested; every item the component reported cancelled must have ended cancelled.
    /// </summary>
    public void AssertConsistent(string context, bool droppedNeverRan = true)
    {
        var problems = new List<string>(_violations);
        int crossChecked = 0;
        for (int id = 0; id < Expected; id++)
        {
            int raw = _outcomes[id];
            bool reportedCancelled = _reportedCancelled[id] > 0;
            if (raw == 0)
            {
                problems.Add($"item {id} never ended");
                continue;
            }

            var outcome = (Outcome)(raw - 1);
            int completions = _completed[id];
            bool started = _started[id] > 0;
            switch (outcome)
            {
                case Outcome.Succeeded when completions != 1:
                    problems.Add($"item {id} succeeded but the handler completed it {completions} times");
                    break;
                case Outcome.Failed when !started:
                    problems.Add($"item {id} failed without its handler starting");
                    break;
                case Outcome.Dropped or Outcome.Refused when droppedNeverRan && started && _cutWhileRunning[id] == 0:
                    problems.Add($"item {id} was {outcome} but its handler ran");
                    break;
                case Outcome.Cancelled when !CancelRequested(id):
                    problems.Add($"item {id} ended cancelled but nobody cancelled it");
                    break;
                case Outcome.Cancelled:
                    crossChecked++;
                    break;
            }

            if (reportedCancelled && outcome != Outcome.Cancelled)
            {
                problems.Add($"item {id} was reported cancelled by the component but ended {outcome}");
            }

            if (problems.Count > 100)
            {
                break;
            }
        }

        CancelledCrossChecked = crossChecked;
        Assert.True(problems.Count == 0, $"{context}: {problems.Count} ledger violations, first: {string.Join("; ", problems.Take(10))}");
    }

    /// <summary>One line for the run summary.</summary>
    public string Summary() =>
        $"items={Expected} succeeded={Count(Outcome.Succeeded)} failed={Count(Outcome.Failed)} cancelled={Count(Outcome.Cancelled)} " +
        $"dropped={Count(Outcome.Dropped)} refused={Count(Outcome.Refused)} faultsInjected={FaultsInjected} unaccounted={Unaccounted}";
}
