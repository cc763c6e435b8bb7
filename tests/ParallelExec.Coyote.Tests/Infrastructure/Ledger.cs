using System.Globalization;
using System.Text;
using Microsoft.Coyote.Specifications;

namespace ParallelExec.Coyote.Tests.Infrastructure;

/// <summary>
/// Records, per item id, every ending the component reported through any channel (the submitting call, the handler,
/// OnDropped, ...). The lock is rewritten by Coyote, so recording is itself a scheduling point.
/// </summary>
internal sealed class Ledger
{
    private readonly object _gate = new();
    private readonly Dictionary<int, List<string>> _events = [];

    public void Record(int id, string what)
    {
        lock (_gate)
        {
            if (!_events.TryGetValue(id, out var list))
            {
                _events[id] = list = [];
            }

            list.Add(what);
        }
    }

    public int Count(int id, string what)
    {
        lock (_gate)
        {
            return _events.TryGetValue(id, out var list) ? list.Count(e => e == what) : 0;
        }
    }

    public int Total(string what)
    {
        lock (_gate)
        {
            return _events.Values.Sum(list => list.Count(e => e == what));
        }
    }

    public string Describe(int id)
    {
        lock (_gate)
        {
            return _events.TryGetValue(id, out var list) ? $"item {id}: [{string.Join(", ", list)}]" : $"item {id}: []";
        }
    }

    public string DescribeAll()
    {
        lock (_gate)
        {
            var text = new StringBuilder();
            foreach (var (id, list) in _events.OrderBy(pair => pair.Key))
            {
                text.Append(CultureInfo.InvariantCulture, $"{id}=[{string.Join(",", list)}] ");
            }

            return text.ToString();
        }
    }

    /// <summary>Asserts that item <paramref name="id"/> saw exactly the events in <paramref name="expected"/>, once each, and no other of <paramref name="tracked"/>.</summary>
    public void AssertExactly(int id, IReadOnlyCollection<string> tracked, params string[] expected)
    {
        foreach (var what in tracked)
        {
            var want = expected.Contains(what) ? 1 : 0;
            var got = Count(id, what);
            Specification.Assert(got == want, "ledger: {0} expected {1} x '{2}' but saw {3}; all: {4}", Describe(id), want, what, got, DescribeAll());
        }
    }
}
